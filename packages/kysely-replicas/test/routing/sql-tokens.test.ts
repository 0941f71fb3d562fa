import { describe, expect, it } from 'vitest'
import { OPAQUE, tokenizeSql } from '../../src/routing/sql-tokens.js'

// Tokens written `kind:text`, space-separated, so that a table row reads like the SQL it cuts.
const cut = (text: string, backslashEscapes = false) =>
  tokenizeSql(text, backslashEscapes)
    .tokens.map((token) => `${token.kind}:${token.text}`)
    .join(' ')

const unreadable = (text: string, backslashEscapes = false) =>
  tokenizeSql(text, backslashEscapes).unreadable

describe('the SQL lexer', () => {
  it.each([
    ['words are lower-cased', 'FOR  Update', 'word:for word:update'],
    ['every blank separates', 'a\tb\nc\rd\fe\vf', 'word:a word:b word:c word:d word:e word:f'],
    ['a control character below tab is no blank', 'a\u0008b', 'word:a symbol:\u0008 word:b'],
    ['DEL is neither a blank nor a letter', 'a\u007fb', 'word:a symbol:\u007f word:b'],
    ['$, digits and _ continue a word', 'next$val_2 x', 'word:next$val_2 word:x'],
    ['a letter beyond ASCII starts a word', 'é_update', 'word:é_update'],
    ['_ starts a word', '_update', 'word:_update'],
    ['a word runs over a to z, A to Z and 0 to 9', 'zAZ09 Zaz', 'word:zaz09 word:zaz'],
    [
      'operators are no letters',
      'a||b[1]~c',
      'word:a symbol:| symbol:| word:b symbol:[ number:1 symbol:] symbol:~ word:c',
    ],
    [
      'symbols are single characters',
      'a.b(c,d);',
      'word:a symbol:. word:b symbol:( word:c symbol:, word:d symbol:) symbol:;',
    ],
    ['a minus is a symbol', 'a - b', 'word:a symbol:- word:b'],
    ['a slash is a symbol', 'a / b', 'word:a symbol:/ word:b'],
    ['a line comment ends at the newline', 'for -- update\nshare', 'word:for word:share'],
    ['a line comment may end the text', 'for -- update', 'word:for'],
    ['a carriage return ends a line comment', 'for -- x\rupdate', 'word:for word:update'],
    ['a dash alone starts no comment', 'a -1', 'word:a symbol:- number:1'],
    ['a slash alone starts no comment', 'a /1', 'word:a symbol:/ number:1'],
    ['a block comment', 'for/* update */share', 'word:for word:share'],
    ['block comments nest', 'for /* a /* b */ update */ share', 'word:for word:share'],
    ['a star alone is no comment end', 'for /* * / update */ share', 'word:for word:share'],
  ])('%s', (_rule, text, tokens) => {
    expect(cut(text)).toBe(tokens)
    expect(unreadable(text)).toBe(false)
  })

  it.each([
    ['a plain string is decoded', "'for update'", 'string:for update'],
    ["'' in a string is a quote", "'it''s' x", "string:it's word:x"],
    ['an empty string', "'' x", 'string: word:x'],
    ['a string ends at its quote', "'a'b", 'string:a word:b'],
    ['a backslash is a character in a plain string', "'a\\' update", 'string:a\\ word:update'],
    ['an E string is read with escapes', "E'it\\'s update' x", 'literal: word:x'],
    ['a lower-case e string too', "e'\\'' x", 'literal: word:x'],
    ['a bit string', "B'101' x", 'literal: word:x'],
    ['a hexadecimal bit string', "x'ff' x", 'literal: word:x'],
    ['a national string is a plain string', "N'update'", 'string:update'],
    ['a national string takes no escapes', "N'a\\' x", 'string:a\\ word:x'],
    ['a Unicode string', "U&'d\\0061ta' x", 'literal: word:x'],
    ['a word may end in e, b, x, n or u', "be 'x'", 'word:be string:x'],
    ['u & v is an operator', 'u & v', 'word:u symbol:& word:v'],
    ['u&v is an operator', 'u&v', 'word:u symbol:& word:v'],
    [
      'a one-letter column and a string',
      "x&'1' u,'x'",
      'word:x symbol:& string:1 word:u symbol:, string:x',
    ],
    ['a two-letter word before a quote', '1 as"x"', 'number:1 word:as name:x'],
    ['a Unicode string takes no backslash-quote escape', "U&'\\' x", 'literal: word:x'],
    ['U& before a space is a word and a symbol', "U& 'x'", 'word:u symbol:& string:x'],
    ['a quoted name is decoded', '"For ""Update"""', 'name:For "Update"'],
    ['a plain quoted name has no escapes', '"d\\0061ta"', 'name:d\\0061ta'],
    ['a quoted name ends at its quote', '"a"b', 'name:a word:b'],
    ['a Unicode name', 'U&"d\\0061t\\+000061"', 'name:data'],
    ['a Unicode name with its escape character', `U&"d!0061ta" UESCAPE '!' x`, 'name:data word:x'],
    ['a doubled escape character is itself', 'U&"a\\\\b"', 'name:a\\b'],
    ['a bad escape is kept', 'U&"\\00g1\\+12"', 'name:\\00g1\\+12'],
    ['a short escape is kept', 'U&"\\61"', 'name:\\61'],
    ['uescape without a string is a word', 'U&"a" uescape x', 'name:a word:uescape word:x'],
    ['uescape at the end is a word', 'U&"a" uescape', 'name:a word:uescape'],
    ['another word before a string is no uescape', `U&"n" like 'a%'`, 'name:n word:like string:a%'],
    ['only the escape character starts an escape', 'U&"x0061"', 'name:x0061'],
    ['a plain name takes no uescape', `"a" uescape '!'`, 'name:a word:uescape string:!'],
  ])('%s', (_rule, text, tokens) => {
    expect(cut(text)).toBe(tokens)
    expect(unreadable(text)).toBe(false)
  })

  it.each([
    ['a parameter', '$1 x', 'parameter:1 word:x'],
    ['a parameter of several digits', '$1000000000+1', 'parameter:1000000000 symbol:+ number:1'],
    ['a dollar-quoted string', '$$ delete $$ x', 'literal: word:x'],
    ['a tagged dollar quote ends at its own tag', '$a$ $$ for update $a$ x', 'literal: word:x'],
    ['a tag may hold digits', '$t1$ update $t1$ x', 'literal: word:x'],
    ['a lone dollar is a symbol', '$ x', 'symbol:$ word:x'],
    ['a tag may start with _', '$_$ delete $_$ x', 'literal: word:x'],
    ['a dollar before a word without a closing one', '$a b', 'symbol:$ word:a word:b'],
    ['a dollar at the end', 'x $', 'word:x symbol:$'],
    ['a dollar-quoted string right after a word continues it', 'a$$b', 'word:a$$b'],
  ])('%s', (_rule, text, tokens) => {
    expect(cut(text)).toBe(tokens)
    expect(unreadable(text)).toBe(false)
  })

  it.each([
    ['an integer', '131072', 'number:131072'],
    ['an integer with every digit', '1234567890', 'number:1234567890'],
    ['a hexadecimal integer ending in e', '(0xfe)', 'symbol:( number:0xfe symbol:)'],
    ['a plus after a number', '1+2', 'number:1 symbol:+ number:2'],
    ['a hexadecimal integer', '0x20000', 'number:0x20000'],
    ['an integer with underscores', '1_000', 'number:1_000'],
    ['a decimal', '1.5', 'number:1.5'],
    ['a decimal without its integer part', '.5', 'number:.5'],
    ['an exponent with a sign', '1e-3 2E+4', 'number:1e-3 number:2E+4'],
    ['a minus after a number', '1-2', 'number:1 symbol:- number:2'],
    ['a dot that starts no number', 'a.b', 'word:a symbol:. word:b'],
    ['a number ends at a dollar', '1$$x$$', 'number:1 literal:'],
  ])('reads %s', (_rule, text, tokens) => {
    expect(cut(text)).toBe(tokens)
  })

  it('hands out tokens of a kind and a text only', () => {
    expect(tokenizeSql('U&"a" "b" c').tokens).toEqual([
      { kind: 'name', text: 'a' },
      { kind: 'name', text: 'b' },
      { kind: 'word', text: 'c' },
    ])
  })

  it('reads plain strings with escapes as standard_conforming_strings = off does', () => {
    expect(cut("'it\\'s' update", true)).toBe('literal: word:update')
    expect(cut("N'a\\'b' x", true)).toBe('literal: word:x')
    // The same text, read with standard strings, ends the string at the escaped quote.
    expect(cut("'it\\'s' update")).toBe('string:it\\ word:s')
    expect(unreadable("'it\\'s' update")).toBe(true)
  })

  it.each([
    ['a string left open', "x = 'abc"],
    ['a string whose last quote is doubled', "x = 'abc''"],
    ['an escape string cut after its backslash', "E'abc\\"],
    ['a quoted name left open', 'x = "abc'],
    ['a block comment left open', 'x /* abc'],
    ['a nested block comment left open', 'x /* a /* b */'],
    ['a dollar quote left open', 'x $$ abc'],
    ['a tagged dollar quote closed by another tag', 'x $a$ abc $b$'],
  ])('marks %s unreadable', (_rule, text) => {
    expect(unreadable(text)).toBe(true)
  })

  it.each([
    ['alone', `x = ${OPAQUE}`, 'word:x symbol:= opaque:', false],
    [
      'between symbols',
      `(${OPAQUE},${OPAQUE})`,
      'symbol:( opaque: symbol:, opaque: symbol:)',
      false,
    ],
    ['inside a string', `'a${OPAQUE}' x`, `string:a${OPAQUE} word:x`, true],
    ['inside an escape string, after a backslash', `E'\\${OPAQUE}'`, 'literal:', true],
    ['inside a quoted name', `"a${OPAQUE}"`, `name:a${OPAQUE}`, true],
    ['inside a block comment', `/* ${OPAQUE} */ x`, 'word:x', true],
    ['inside a line comment', `-- ${OPAQUE}\nx`, 'word:x', true],
    ['after a line comment', `-- x\n${OPAQUE}`, 'opaque:', false],
    ['right before a line comment', `(${OPAQUE})-- x`, 'symbol:( opaque: symbol:)', false],
    ['glued to a line comment', `${OPAQUE}-- x`, 'opaque:', false],
    ['inside a dollar-quoted string', `$$ ${OPAQUE} $$`, 'literal:', true],
    ['inside an unclosed dollar-quoted string', `$$ ${OPAQUE}`, '', true],
    ['after a dollar-quoted string', `$$ x $$ ${OPAQUE}`, 'literal: opaque:', false],
    ['glued to the word before', `next${OPAQUE}`, 'word:next opaque:', true],
    ['glued to the word after', `${OPAQUE}val`, 'opaque: word:val', true],
    ['glued to a digit', `${OPAQUE}1`, 'opaque: number:1', true],
    ['glued to a dollar', `$${OPAQUE}`, 'symbol:$ opaque:', true],
  ])('reads a query node %s', (_where, text, tokens, hidden) => {
    expect(cut(text)).toBe(tokens)
    expect(unreadable(text)).toBe(hidden)
  })
})
