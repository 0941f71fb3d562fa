import { describeRecipe } from '../../http-recipe-checks/recipe-checks.js'
import { createApp } from '../app.js'

describeRecipe('NestJS', async (db) => {
  const app = await createApp(db)
  await app.listen(0, '127.0.0.1')
  return { url: await app.getUrl(), close: () => app.close() }
})
