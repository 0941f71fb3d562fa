import { describeRecipe } from '../../http-recipe-checks/recipe-checks.ts'
import { createApp } from '../app.mjs'

describeRecipe('Fastify', async (db) => {
  const app = createApp(db)
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  return { url, close: () => app.close() }
})
