// A TypeDoc plugin for the style guide's rule: every export's JSDoc has a fenced code example.
// A missing one is a warning, which `treatWarningsAsErrors` turns into a failed `pnpm docs:api`.
import { Converter } from 'typedoc'

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_END, (context) => {
    for (const entry of context.project.children ?? []) {
      for (const exported of entry.children ?? []) {
        const comment = exported.comment ?? exported.signatures?.[0]?.comment
        const parts = [
          ...(comment?.summary ?? []),
          ...(comment?.blockTags ?? []).flatMap((tag) => tag.content),
        ]
        if (!parts.some((part) => part.kind === 'code' && part.text.startsWith('```'))) {
          app.logger.warn(
            `${entry.name}.${exported.name} has no example: add a fenced \`\`\`ts block to its JSDoc.`,
          )
        }
      }
    }
  })
}
