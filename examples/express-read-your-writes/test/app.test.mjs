import { describeRecipe } from '../../http-recipe-checks/recipe-checks.ts'
import { createApp } from '../app.mjs'

describeRecipe('Express', async (db) => {
  const server = await new Promise((resolve, reject) => {
    const listening = createApp(db).listen(0, '127.0.0.1', (error) =>
      error ? reject(error) : resolve(listening),
    )
  })
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  }
})
