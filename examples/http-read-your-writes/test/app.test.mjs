import { serve } from '@hono/node-server'
import { describeRecipe } from '../../http-recipe-checks/recipe-checks.ts'
import { createApp, TOKEN_COOKIE } from '../app.mjs'

describeRecipe(
  'Hono',
  async (db) => {
    const server = await new Promise((resolve) => {
      const started = serve({ fetch: createApp(db).fetch, hostname: '127.0.0.1', port: 0 }, () =>
        resolve(started),
      )
    })
    return {
      url: `http://127.0.0.1:${server.address().port}`,
      close: () => new Promise((resolve) => server.close(resolve)),
    }
  },
  { tokenCookie: TOKEN_COOKIE },
)
