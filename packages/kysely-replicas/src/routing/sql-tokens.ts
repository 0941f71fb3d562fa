/**
 * A token of PostgreSQL SQL text, as the server's lexer would cut it:
 *
 * - `word`: an unquoted identifier or keyword, lower-cased (`NextVal` is `nextval`);
 * - `name`: a quoted identifier, unquoted and decoded (`"a""b"` is `a"b`, `U&"\0061"` is `a`);
 * - `number`: a numeric literal as written (`131072`, `0x20000`, `1_000`);
 * - `string`: a plain `'…'` literal, decoded; `literal`: any other string (`E'…'`, `$$…$$`,
 *   `U&'…'`, `B'…'`), whose text is left empty;
 * - `parameter`: `$1`, its digits; `opaque`: a node of the query that is not text (see
 *   {@link OPAQUE}); `symbol`: any other single character.
 *
 * Comments and blanks are dropped.
 */
export interface SqlToken {
  readonly kind:
    | 'word'
    | 'name'
    | 'number'
    | 'string'
    | 'literal'
    | 'parameter'
    | 'opaque'
    | 'symbol'
  readonly text: string
}

/** The tokens of a text, and whether the text hides something that cannot be read safely. */
export interface SqlTokens {
  readonly tokens: readonly SqlToken[]
  /**
   * A quote, comment or dollar quote left open at the end, or an {@link OPAQUE} mark inside one
   * (or glued to a word): what follows in the full query, or the node's own text, could turn
   * into code that this text does not show.
   */
  readonly unreadable: boolean
}

/**
 * Stands for a query node inside rendered raw text (a subquery, a function call…): it is not
 * text the user wrote, and the walk inspects it as a node.
 */
export const OPAQUE = '\u{E000}'
const OPAQUE_CODE = 0xe000

/**
 * Cuts SQL text into tokens the way PostgreSQL's lexer does, so that comments (block ones, nested,
 * and `--`), string literals, quoted identifiers, `U&"…"` identifiers (with `UESCAPE`) and
 * dollar-quoted strings hide no keyword and fake none. `backslashEscapes` reads plain strings as
 * a server with `standard_conforming_strings = off` does.
 *
 * ```ts
 * tokenizeSql('FOR /* c *\/ UPDATE').tokens // [{ kind: 'word', text: 'for' }, { kind: 'word', text: 'update' }]
 * ```
 */
export function tokenizeSql(text: string, backslashEscapes = false): SqlTokens {
  const lexer = new Lexer(text, backslashEscapes)
  lexer.run()
  return { tokens: applyUescape(lexer.tokens), unreadable: lexer.unreadable }
}

class Lexer {
  readonly tokens: (SqlToken & { unicode?: boolean })[] = []
  unreadable = false
  #i = 0
  readonly #text: string
  readonly #backslashEscapes: boolean

  constructor(text: string, backslashEscapes: boolean) {
    this.#text = text
    this.#backslashEscapes = backslashEscapes
  }

  run(): void {
    const text = this.#text
    while (this.#i < text.length) {
      const code = text.charCodeAt(this.#i)
      const next = text[this.#i + 1]
      if (isBlank(code)) {
        this.#i++
      } else if (code === 45 && next === '-') {
        this.#lineComment()
      } else if (code === 47 && next === '*') {
        this.#blockComment()
      } else if (code === 39) {
        this.#string(this.#backslashEscapes ? 'literal' : 'string', this.#backslashEscapes)
      } else if (code === 34) {
        this.#quotedName(false)
      } else if (code === 36) {
        this.#dollar()
      } else if (code === OPAQUE_CODE) {
        this.#opaque()
      } else if (isDigit(code) || (code === 46 && isDigit(text.charCodeAt(this.#i + 1)))) {
        this.#number()
      } else if (isIdentifierStart(code)) {
        this.#wordOrPrefixedLiteral(code, next)
      } else {
        this.tokens.push({ kind: 'symbol', text: text[this.#i] as string })
        this.#i++
      }
    }
  }

  /**
   * `--` to the end of the line, which a carriage return ends too. A node inside may end the
   * line early: its text can hold a line break.
   */
  #lineComment(): void {
    const text = this.#text
    let i = this.#i + 2
    while (i < text.length && text[i] !== '\n' && text[i] !== '\r') {
      this.#hiddenOpaqueCheck(i)
      i++
    }
    this.#i = i + 1
  }

  #blockComment(): void {
    const text = this.#text
    let depth = 0
    while (this.#i < text.length) {
      const pair = text.slice(this.#i, this.#i + 2)
      if (pair === '/*') {
        depth++
        this.#i += 2
      } else if (pair === '*/') {
        depth--
        this.#i += 2
        if (depth === 0) return
      } else {
        this.#hiddenOpaqueCheck(this.#i)
        this.#i++
      }
    }
    this.unreadable = true
  }

  /** `'…'` from the quote at the cursor; `''` is a quote, and so is `\'` with escapes. */
  #string(kind: 'string' | 'literal', escapes: boolean): void {
    const text = this.#text
    let value = ''
    let i = this.#i + 1
    while (i < text.length) {
      const char = text[i]
      this.#hiddenOpaqueCheck(i)
      if (escapes && char === '\\') {
        this.#hiddenOpaqueCheck(i + 1)
        i += 2
      } else if (char === "'") {
        if (text[i + 1] !== "'") {
          this.#i = i + 1
          this.tokens.push({ kind, text: kind === 'string' ? value : '' })
          return
        }
        value += "'"
        i += 2
      } else {
        value += char
        i++
      }
    }
    this.#i = text.length
    this.unreadable = true
  }

  #quotedName(unicode: boolean): void {
    const text = this.#text
    let name = ''
    let i = this.#i + 1
    while (i < text.length) {
      this.#hiddenOpaqueCheck(i)
      if (text[i] === '"') {
        if (text[i + 1] !== '"') {
          this.#i = i + 1
          this.tokens.push({ kind: 'name', text: name, unicode })
          return
        }
        name += '"'
        i += 2
      } else {
        name += text[i]
        i++
      }
    }
    this.#i = text.length
    this.unreadable = true
  }

  /** `$1`, a dollar-quoted string `$tag$…$tag$`, or a lone `$`. */
  #dollar(): void {
    const text = this.#text
    const start = this.#i
    let i = start + 1
    if (isDigit(text.charCodeAt(i))) {
      while (isDigit(text.charCodeAt(i))) i++
      this.tokens.push({ kind: 'parameter', text: text.slice(start + 1, i) })
      this.#i = i
      return
    }
    // A tag cannot start with a digit: `$1` was taken above.
    while (isIdentifierChar(text.charCodeAt(i)) && text[i] !== '$') i++
    if (text[i] !== '$') {
      this.tokens.push({ kind: 'symbol', text: '$' })
      this.#i = start + 1
      return
    }
    const tag = text.slice(start, i + 1)
    const end = text.indexOf(tag, i + 1)
    if (end === -1) {
      this.#i = text.length
      this.unreadable = true
      return
    }
    for (let j = i + 1; j < end; j++) this.#hiddenOpaqueCheck(j)
    this.tokens.push({ kind: 'literal', text: '' })
    this.#i = end + tag.length
  }

  #opaque(): void {
    const text = this.#text
    // A node glued to a word could extend it: `next${node}` compiles to one identifier.
    if (
      isIdentifierChar(text.charCodeAt(this.#i - 1)) ||
      isIdentifierChar(text.charCodeAt(this.#i + 1))
    ) {
      this.unreadable = true
    }
    this.tokens.push({ kind: 'opaque', text: '' })
    this.#i++
  }

  #number(): void {
    const text = this.#text
    let i = this.#i
    while (i < text.length) {
      const code = text.charCodeAt(i)
      const exponentSign =
        (code === 43 || code === 45) && (text[i - 1] === 'e' || text[i - 1] === 'E')
      if (!(isIdentifierChar(code) || code === 46 || exponentSign) || code === 36) break
      i++
    }
    this.tokens.push({ kind: 'number', text: text.slice(this.#i, i) })
    this.#i = i
  }

  /** A word, or a string or name with a prefix: `E'…'`, `B'…'`, `X'…'`, `N'…'`, `U&'…'`, `U&"…"`. */
  #wordOrPrefixedLiteral(code: number, next: string | undefined): void {
    const text = this.#text
    const lower = code | 0x20
    if (next === "'" && (lower === 101 || lower === 98 || lower === 120 || lower === 110)) {
      this.#i++
      this.#string(
        lower === 110 && !this.#backslashEscapes ? 'string' : 'literal',
        lower === 101 || this.#backslashEscapes,
      )
      return
    }
    if (lower === 117 && next === '&' && (text[this.#i + 2] === "'" || text[this.#i + 2] === '"')) {
      this.#i += 2
      if (text[this.#i] === '"') {
        this.#quotedName(true)
      } else {
        this.#string('literal', false)
      }
      return
    }
    let i = this.#i + 1
    while (i < text.length && isIdentifierChar(text.charCodeAt(i))) i++
    this.tokens.push({ kind: 'word', text: text.slice(this.#i, i).toLowerCase() })
    this.#i = i
  }

  #hiddenOpaqueCheck(i: number): void {
    if (this.#text.charCodeAt(i) === OPAQUE_CODE) this.unreadable = true
  }
}

/** Decodes `U&"…"` names, with the escape character of a following `UESCAPE '…'`. */
function applyUescape(tokens: readonly (SqlToken & { unicode?: boolean })[]): SqlToken[] {
  const result: SqlToken[] = []
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as SqlToken & { unicode?: boolean }
    if (!token.unicode) {
      result.push(token.kind === 'name' ? { kind: 'name', text: token.text } : token)
      continue
    }
    const next = tokens[i + 1]
    const custom =
      next?.kind === 'word' && next.text === 'uescape' && tokens[i + 2]?.kind === 'string'
    const escapeChar = custom ? (tokens[i + 2] as SqlToken).text : '\\'
    result.push({ kind: 'name', text: decodeUnicodeEscapes(token.text, escapeChar) })
    if (custom) i += 2
  }
  return result
}

function decodeUnicodeEscapes(text: string, escapeChar: string): string {
  let result = ''
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== escapeChar) {
      result += text[i]
      continue
    }
    if (text[i + 1] === escapeChar) {
      result += escapeChar
      i++
      continue
    }
    const six = text[i + 1] === '+'
    const digits = six ? text.slice(i + 2, i + 8) : text.slice(i + 1, i + 5)
    if (!/^[0-9a-f]+$/i.test(digits) || digits.length !== (six ? 6 : 4)) {
      result += text[i]
      continue
    }
    result += String.fromCodePoint(Number.parseInt(digits, 16))
    i += six ? 7 : 4
  }
  return result
}

function isBlank(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13)
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57
}

function isIdentifierStart(code: number): boolean {
  return (
    (code >= 97 && code <= 122) ||
    (code >= 65 && code <= 90) ||
    code === 95 ||
    (code > 127 && code !== OPAQUE_CODE)
  )
}

/** PostgreSQL's identifier characters: letters, digits, `_`, `$`, and any non-ASCII one. */
function isIdentifierChar(code: number): boolean {
  return isIdentifierStart(code) || isDigit(code) || code === 36
}
