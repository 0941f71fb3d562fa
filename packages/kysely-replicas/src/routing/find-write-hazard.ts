import type {
  AggregateFunctionNode,
  AliasNode,
  AndNode,
  BinaryOperationNode,
  CaseNode,
  CastNode,
  CollateNode,
  ColumnNode,
  CommonTableExpressionNameNode,
  CommonTableExpressionNode,
  DataTypeNode,
  DeleteQueryNode,
  ExplainNode,
  FetchNode,
  FromNode,
  FunctionNode,
  GroupByItemNode,
  GroupByNode,
  HavingNode,
  IdentifierNode,
  InsertQueryNode,
  JoinNode,
  JSONOperatorChainNode,
  JSONPathLegNode,
  JSONPathNode,
  JSONReferenceNode,
  LimitNode,
  ListNode,
  MergeQueryNode,
  OffsetNode,
  OnNode,
  OperationNode,
  OperatorNode,
  OrderByItemNode,
  OrderByNode,
  OrNode,
  OverNode,
  ParensNode,
  PartitionByItemNode,
  PartitionByNode,
  PrimitiveValueListNode,
  RawNode,
  ReferenceNode,
  SchemableIdentifierNode,
  SelectAllNode,
  SelectionNode,
  SelectModifierNode,
  SelectQueryNode,
  SetOperationNode,
  TableNode,
  TopNode,
  TupleNode,
  UnaryOperationNode,
  UpdateQueryNode,
  ValueListNode,
  ValueNode,
  WhenNode,
  WhereNode,
  WithNode,
} from 'kysely'
import type { ClassifyOptions } from './classify-options.js'
import { type QueryClassification, writeBecause } from './query-classification.js'
import { findFunctionNameHazard, findRawFragmentHazard } from './raw-fragment-hazard.js'
import {
  matchingEntry,
  matchWritingFunction,
  normalizeFunctionName,
} from './writing-function-name.js'

// The walk runs on every select, so it is a hand-written switch over the kinds a select is made
// of, reading each child property directly, and it allocates nothing until it finds something.
// Measured with Node 20 on a plain `selectFrom('person').selectAll().where('id', '=', 1)`: about
// 120 ns (compiling the same query: about 750 ns), against 230-250 ns for a generic walk over every
// own property and 470 ns for a per-kind table of child property names, whose keyed reads go
// megamorphic. Kinds the switch does not know (those a select cannot contain, and any a newer
// Kysely adds) still get the generic walk, so nothing is skipped.

const ROW_LOCKS: Readonly<Partial<Record<string, QueryClassification>>> = Object.freeze({
  ForUpdate: writeBecause('row-lock', 'for update'),
  ForNoKeyUpdate: writeBecause('row-lock', 'for no key update'),
  ForShare: writeBecause('row-lock', 'for share'),
  ForKeyShare: writeBecause('row-lock', 'for key share'),
} satisfies Record<RowLockModifier, QueryClassification>)

type RowLockModifier = Exclude<
  NonNullable<SelectModifierNode['modifier']>,
  'NoWait' | 'SkipLocked' | 'Distinct'
>

const DATA_MODIFYING = Object.freeze({
  InsertQueryNode: writeBecause('data-modifying-cte', 'InsertQueryNode'),
  UpdateQueryNode: writeBecause('data-modifying-cte', 'UpdateQueryNode'),
  DeleteQueryNode: writeBecause('data-modifying-cte', 'DeleteQueryNode'),
  MergeQueryNode: writeBecause('data-modifying-cte', 'MergeQueryNode'),
} satisfies Record<DataModifyingNode['kind'], QueryClassification>)

/**
 * The first thing in a node's tree that keeps it off a hot standby: a row lock, a data-modifying
 * query, a writing function (called through a node or in raw `sql`), or `undefined` when there is
 * none. Kysely's nodes are trees of frozen objects, so the walk needs no cycle guard.
 *
 * ```ts
 * findWriteHazard(db.selectFrom('person').selectAll().forShare().toOperationNode(), new Set())
 * // { access: 'write', reason: 'row-lock', detail: 'for share' }
 * ```
 */
export function findWriteHazard(
  node: OperationNode,
  options: ClassifyOptions,
): QueryClassification | undefined {
  // Narrowing by `kind` needs a union; a node of any other kind lands in `default`.
  const n = node as WalkedNode | LeafNode | DataModifyingNode
  const f = options
  switch (n.kind) {
    // A value is the user's data, which the generic walk would enter.
    case 'ValueNode':
    // Stryker disable StringLiteral,ConditionalExpression: equivalent mutants. A kind that leaves
    // the switch gets the generic walk, which finds nothing in a leaf either and, in the kinds of
    // the second block, the same hazards in the same order: it reads their children in the order
    // Kysely creates them, which is the order the SQL reads. Only the time differs.
    case 'IdentifierNode':
    case 'ReferenceNode':
    case 'ColumnNode':
    case 'TableNode':
    case 'SchemableIdentifierNode':
    case 'OperatorNode':
    case 'SelectAllNode':
    case 'PrimitiveValueListNode':
    case 'DataTypeNode':
    case 'CollateNode':
    case 'CommonTableExpressionNameNode':
    case 'FetchNode':
    case 'TopNode':
    case 'JSONReferenceNode':
    case 'JSONPathNode':
    case 'JSONPathLegNode':
    case 'JSONOperatorChainNode':
      return undefined
    // Stryker restore StringLiteral,ConditionalExpression
    case 'SelectQueryNode':
      // In the order Kysely's compilers visit them (the order the SQL reads), so that a query
      // with several hazards is reported by the same one as a `ClassifyingCompiler` finds first.
      return (
        walkOptional(n.explain, f) ??
        walkOptional(n.with, f) ??
        walkList(n.distinctOn, f) ??
        walkList(n.frontModifiers, f) ??
        walkOptional(n.top, f) ??
        walkList(n.selections, f) ??
        walkOptional(n.from, f) ??
        walkList(n.joins, f) ??
        walkOptional(n.where, f) ??
        walkOptional(n.groupBy, f) ??
        walkOptional(n.having, f) ??
        walkList(n.setOperations, f) ??
        walkOptional(n.orderBy, f) ??
        walkOptional(n.limit, f) ??
        walkOptional(n.offset, f) ??
        walkOptional(n.fetch, f) ??
        walkList(n.endModifiers, f)
      )
    case 'InsertQueryNode':
    case 'UpdateQueryNode':
    case 'DeleteQueryNode':
    case 'MergeQueryNode':
      return dataModifyingHazard(n)
    case 'SelectModifierNode':
      return rowLockHazard(n) ?? walkOptional(n.rawModifier, f) ?? walkList(n.of, f)
    case 'FunctionNode':
      return functionHazard(n.func, n.arguments, f) ?? walkList(n.arguments, f)
    case 'AggregateFunctionNode':
      return (
        functionHazard(n.func, n.aggregated, f) ??
        walkList(n.aggregated, f) ??
        walkOptional(n.orderBy, f) ??
        walkOptional(n.withinGroup, f) ??
        walkOptional(n.filter, f) ??
        walkOptional(n.over, f)
      )
    case 'RawNode':
      return findRawFragmentHazard(n, f) ?? walkRawParameters(n, f)
    // Kysely creates `orderBy` and `partitionBy` in the order the builder calls come.
    case 'OverNode':
      return walkOptional(n.partitionBy, f) ?? walkOptional(n.orderBy, f)
    // Stryker disable StringLiteral: equivalent mutants (see above).
    case 'FromNode':
      return walkList(n.froms, f)
    case 'SelectionNode':
      return findWriteHazard(n.selection, f)
    case 'WhereNode':
      return findWriteHazard(n.where, f)
    case 'HavingNode':
      return findWriteHazard(n.having, f)
    case 'OnNode':
      return findWriteHazard(n.on, f)
    case 'AndNode':
    case 'OrNode':
      return findWriteHazard(n.left, f) ?? findWriteHazard(n.right, f)
    case 'BinaryOperationNode':
      return (
        findWriteHazard(n.leftOperand, f) ??
        findWriteHazard(n.operator, f) ??
        findWriteHazard(n.rightOperand, f)
      )
    case 'UnaryOperationNode':
      return findWriteHazard(n.operator, f) ?? findWriteHazard(n.operand, f)
    // Stryker disable next-line ConditionalExpression: equivalent, falling through: the alias, an identifier, holds no hazard.
    case 'AliasNode':
      return findWriteHazard(n.node, f) ?? findWriteHazard(n.alias, f)
    case 'ParensNode':
      return findWriteHazard(n.node, f)
    case 'JoinNode':
      return findWriteHazard(n.table, f) ?? walkOptional(n.on, f)
    case 'WithNode':
      return walkList(n.expressions, f)
    // Stryker disable next-line ConditionalExpression: equivalent, falling through: the name is a leaf.
    case 'CommonTableExpressionNode':
      return findWriteHazard(n.name, f) ?? findWriteHazard(n.expression, f)
    case 'SetOperationNode':
      return findWriteHazard(n.expression, f)
    case 'OrderByNode':
      return walkList(n.items, f)
    case 'OrderByItemNode':
      return (
        findWriteHazard(n.orderBy, f) ??
        walkOptional(n.direction, f) ??
        walkOptional(n.collation, f)
      )
    case 'GroupByNode':
      return walkList(n.items, f)
    case 'GroupByItemNode':
      return findWriteHazard(n.groupBy, f)
    case 'LimitNode':
      return findWriteHazard(n.limit, f)
    case 'OffsetNode':
      return findWriteHazard(n.offset, f)
    case 'PartitionByNode':
      return walkList(n.items, f)
    case 'PartitionByItemNode':
      return findWriteHazard(n.partitionBy, f)
    case 'ValueListNode':
    case 'TupleNode':
      return walkList(n.values, f)
    case 'ListNode':
      return walkList(n.items, f)
    case 'CaseNode':
      return walkOptional(n.value, f) ?? walkList(n.when, f) ?? walkOptional(n.else, f)
    case 'WhenNode':
      return findWriteHazard(n.condition, f) ?? walkOptional(n.result, f)
    case 'CastNode':
      return findWriteHazard(n.expression, f) ?? findWriteHazard(n.dataType, f)
    // Stryker disable next-line ConditionalExpression: equivalent, falling through: the generic walk reads the same options.
    case 'ExplainNode':
      return walkOptional(n.options, f)
    // Stryker restore StringLiteral
    default:
      return walkAnyNode(node, f)
  }
}

/** The row lock a select modifier takes (`for update`…), if any; its raw modifier aside. */
export function rowLockHazard(node: SelectModifierNode): QueryClassification | undefined {
  return node.modifier === undefined ? undefined : ROW_LOCKS[node.modifier]
}

/** What a data-modifying query nested in a select makes of it. */
export function dataModifyingHazard(node: DataModifyingNode): QueryClassification {
  return DATA_MODIFYING[node.kind]
}

function walkOptional(
  node: OperationNode | undefined,
  options: ClassifyOptions,
): QueryClassification | undefined {
  return node === undefined ? undefined : findWriteHazard(node, options)
}

function walkList(
  nodes: ReadonlyArray<OperationNode> | undefined,
  options: ClassifyOptions,
): QueryClassification | undefined {
  if (nodes === undefined) {
    return undefined
  }
  for (let i = 0; i < nodes.length; i++) {
    const hazard = findWriteHazard(nodes[i] as OperationNode, options)
    if (hazard !== undefined) {
      return hazard
    }
  }
  return undefined
}

/** The nodes among a raw node's parameters; nested raw nodes were read with its text already. */
function walkRawParameters(
  node: RawNode,
  options: ClassifyOptions,
): QueryClassification | undefined {
  const parameters = node.parameters
  for (let i = 0; i < parameters.length; i++) {
    const parameter = parameters[i] as OperationNode
    const hazard =
      parameter.kind === 'RawNode'
        ? walkRawParameters(parameter as RawNode, options)
        : findWriteHazard(parameter, options)
    if (hazard !== undefined) {
      return hazard
    }
  }
  return undefined
}

// Function names are written into the query as they are: anything but a plain, possibly
// qualified name (`nextval`, `pg_catalog.NextVal`) is read as SQL text.
const PLAIN_NAME = /^[A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)*$/

/**
 * Whether a call to `name` with these arguments writes: a writing function, or a conditional
 * one whose deciding argument says it writes (or cannot be read). The arguments' own trees aside.
 */
export function functionHazard(
  name: string,
  args: ReadonlyArray<OperationNode>,
  options: ClassifyOptions,
): QueryClassification | undefined {
  if (!PLAIN_NAME.test(name)) {
    return findFunctionNameHazard(name, options)
  }
  const matched = matchWritingFunction(name, options.writingFunctions)
  if (matched !== undefined) {
    return writeBecause('writing-function', matched)
  }
  const conditional = options.conditionalWritingFunctions
  const entry = conditional.size === 0 ? undefined : matchingEntry(name, conditional)
  const rule = entry === undefined ? undefined : conditional.get(entry)
  if (rule === undefined) {
    return undefined
  }
  const argument = argumentValue(args[rule.argument])
  return argument !== undefined && !rule.writesWith(argument.value)
    ? undefined
    : writeBecause('writing-function', normalizeFunctionName(name))
}

/** The value of a `ValueNode` argument (`eb.val(x)`, `eb.lit(x)`, `sql.lit(x)`), else `undefined`. */
function argumentValue(node: OperationNode | undefined): { readonly value: unknown } | undefined {
  if (node?.kind === 'ValueNode') {
    return { value: (node as ValueNode).value }
  }
  if (node?.kind === 'RawNode') {
    const { sqlFragments, parameters } = node as RawNode
    const bare = parameters.length === 1 && sqlFragments.every((part) => part.trim() === '')
    return bare ? argumentValue(parameters[0]) : undefined
  }
  return undefined
}

/**
 * The walk for kinds the switch does not know: every own property that holds a node or an array
 * of nodes. Values that are not nodes (user data in a kind we do not know) are passed over
 * without being entered.
 */
function walkAnyNode(
  node: OperationNode,
  options: ClassifyOptions,
): QueryClassification | undefined {
  const properties = node as unknown as Readonly<Record<string, unknown>>
  for (const key in properties) {
    const child = properties[key]
    const hazard = Array.isArray(child)
      ? walkUnknownList(child, options)
      : isNode(child)
        ? findWriteHazard(child, options)
        : undefined
    if (hazard !== undefined) {
      return hazard
    }
  }
  return undefined
}

function walkUnknownList(
  items: readonly unknown[],
  options: ClassifyOptions,
): QueryClassification | undefined {
  for (const item of items) {
    const hazard = isNode(item) ? findWriteHazard(item, options) : undefined
    if (hazard !== undefined) {
      return hazard
    }
  }
  return undefined
}

function isNode(value: unknown): value is OperationNode {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { readonly kind?: unknown }).kind === 'string'
  )
}

// ---------------------------------------------------------------------------------------------
// Compile-time inventory. The switch reads child properties by name, so a child that Kysely adds
// to one of these nodes would be skipped silently. `WalkedChildren` names the children the switch
// walks for each kind, and the checks below compare it with Kysely's node interfaces: a missing
// or extra name, a walked kind left out, or a leaf kind gaining a child that could hold a query,
// a function or raw SQL fails the build with the name of the kind to look at.

/** Kinds walked through their children. */
type WalkedNode =
  | SelectQueryNode
  | SelectModifierNode
  | FunctionNode
  | AggregateFunctionNode
  | RawNode
  | FromNode
  | SelectionNode
  | WhereNode
  | HavingNode
  | OnNode
  | AndNode
  | OrNode
  | BinaryOperationNode
  | UnaryOperationNode
  | AliasNode
  | ParensNode
  | JoinNode
  | WithNode
  | CommonTableExpressionNode
  | SetOperationNode
  | OrderByNode
  | OrderByItemNode
  | GroupByNode
  | GroupByItemNode
  | LimitNode
  | OffsetNode
  | OverNode
  | PartitionByNode
  | PartitionByItemNode
  | ValueListNode
  | TupleNode
  | ListNode
  | CaseNode
  | WhenNode
  | CastNode
  | ExplainNode

/** Kinds whose children can only be other leaves, or data that is not a node. */
type LeafNode =
  | IdentifierNode
  | ReferenceNode
  | ColumnNode
  | TableNode
  | SchemableIdentifierNode
  | ValueNode
  | OperatorNode
  | SelectAllNode
  | PrimitiveValueListNode
  | DataTypeNode
  | CollateNode
  | CommonTableExpressionNameNode
  | FetchNode
  | TopNode
  | JSONReferenceNode
  | JSONPathNode
  | JSONPathLegNode
  | JSONOperatorChainNode

export type DataModifyingNode = InsertQueryNode | UpdateQueryNode | DeleteQueryNode | MergeQueryNode

interface WalkedChildren {
  SelectQueryNode:
    | 'with'
    | 'selections'
    | 'distinctOn'
    | 'from'
    | 'joins'
    | 'where'
    | 'groupBy'
    | 'having'
    | 'orderBy'
    | 'frontModifiers'
    | 'endModifiers'
    | 'limit'
    | 'offset'
    | 'setOperations'
    | 'fetch'
    | 'top'
    | 'explain'
  SelectModifierNode: 'rawModifier' | 'of'
  FunctionNode: 'arguments'
  AggregateFunctionNode: 'aggregated' | 'orderBy' | 'withinGroup' | 'filter' | 'over'
  RawNode: 'parameters'
  FromNode: 'froms'
  SelectionNode: 'selection'
  WhereNode: 'where'
  HavingNode: 'having'
  OnNode: 'on'
  AndNode: 'left' | 'right'
  OrNode: 'left' | 'right'
  BinaryOperationNode: 'leftOperand' | 'operator' | 'rightOperand'
  UnaryOperationNode: 'operator' | 'operand'
  AliasNode: 'node' | 'alias'
  ParensNode: 'node'
  JoinNode: 'table' | 'on'
  WithNode: 'expressions'
  CommonTableExpressionNode: 'name' | 'expression'
  SetOperationNode: 'expression'
  OrderByNode: 'items'
  OrderByItemNode: 'orderBy' | 'direction' | 'collation'
  GroupByNode: 'items'
  GroupByItemNode: 'groupBy'
  LimitNode: 'limit'
  OffsetNode: 'offset'
  OverNode: 'orderBy' | 'partitionBy'
  PartitionByNode: 'items'
  PartitionByItemNode: 'partitionBy'
  ValueListNode: 'values'
  TupleNode: 'values'
  ListNode: 'items'
  CaseNode: 'value' | 'when' | 'else'
  WhenNode: 'condition' | 'result'
  CastNode: 'expression' | 'dataType'
  ExplainNode: 'options'
}

type HoldsNode<T> = T extends OperationNode
  ? true
  : T extends ReadonlyArray<infer Item>
    ? Item extends OperationNode
      ? true
      : false
    : false

/** The properties of a node that hold a node or an array of nodes. */
type ChildKey<N> = {
  [P in keyof N]-?: P extends 'kind' ? never : true extends HoldsNode<NonNullable<N[P]>> ? P : never
}[keyof N]

/** The node types a node's children can be. */
type ChildNode<N> = {
  [P in ChildKey<N>]: NonNullable<N[P]> extends ReadonlyArray<infer Item> ? Item : NonNullable<N[P]>
}[ChildKey<N>]

type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false

type NoMismatch<Kinds> = [Kinds] extends [never] ? true : { readonly kindsToUpdate: Kinds }

// Evaluated by the compiler only. When Kysely's nodes change, the error names the kinds to update.
true satisfies NoMismatch<
  | Exclude<WalkedNode['kind'], keyof WalkedChildren>
  | {
      [K in keyof WalkedChildren]: SameKeys<
        WalkedChildren[K],
        ChildKey<Extract<WalkedNode, { kind: K }>>
      > extends true
        ? never
        : K
    }[keyof WalkedChildren]
  | {
      [K in LeafNode['kind']]: [ChildNode<Extract<LeafNode, { kind: K }>>] extends [LeafNode]
        ? never
        : K
    }[LeafNode['kind']]
>
