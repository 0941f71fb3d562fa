// A NestJS app on kysely-replicas whose clients read what they wrote. The whole recipe is
// `ConsistencyScopeMiddleware`: each request runs in a read-your-writes scope of its own, started
// from the token the client sent back, and the response carries the scope's token.
import 'reflect-metadata'
import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  BadRequestException,
  Body,
  Controller,
  Get,
  type INestApplication,
  Inject,
  Injectable,
  type MiddlewareConsumer,
  Module,
  type NestMiddleware,
  type NestModule,
  NotFoundException,
  Param,
  ParseIntPipe,
  Post,
} from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import type { Generated, Kysely } from 'kysely'
import { replicationOf } from 'kysely-replicas'
import onHeaders from 'on-headers'

export const TOKEN_HEADER = 'x-consistency-token'

export interface NoteDatabase {
  note: { id: Generated<number>; text: string }
}

/** The injection token of the app's Kysely instance. */
export const KYSELY = Symbol('Kysely')

/** One read-your-writes scope per request, its token in the response. */
@Injectable()
export class ConsistencyScopeMiddleware implements NestMiddleware {
  constructor(@Inject(KYSELY) private readonly db: Kysely<NoteDatabase>) {}

  use(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
    const replication = replicationOf(this.db)
    const token = req.headers[TOKEN_HEADER]
    replication
      .runInScope(
        () => {
          // Taken when the headers go out, that is after the handler's writes.
          onHeaders(res, () => res.setHeader(TOKEN_HEADER, replication.token()))
          next()
        },
        typeof token === 'string' ? token : undefined,
      )
      .catch(next)
  }
}

@Controller('notes')
export class NotesController {
  constructor(@Inject(KYSELY) private readonly db: Kysely<NoteDatabase>) {}

  @Post()
  async create(@Body() body: { text?: unknown }) {
    if (typeof body?.text !== 'string' || body.text === '') {
      throw new BadRequestException('expected { "text": "…" }')
    }
    const { id } = await this.db
      .insertInto('note')
      .values({ text: body.text })
      .returning('id')
      .executeTakeFirstOrThrow()
    // A read right after the write, in the same request: a replica that has it, or the primary.
    return this.find(id)
  }

  @Get(':id')
  async find(@Param('id', ParseIntPipe) id: number) {
    const note = await this.db
      .selectFrom('note')
      .select(['id', 'text'])
      .where('id', '=', id)
      .executeTakeFirst()
    if (note === undefined) {
      throw new NotFoundException()
    }
    return note
  }
}

/** The app's module, with `db` as its Kysely. */
export function createAppModule(db: Kysely<NoteDatabase>) {
  @Module({
    controllers: [NotesController],
    providers: [{ provide: KYSELY, useValue: db }],
  })
  class AppModule implements NestModule {
    configure(consumer: MiddlewareConsumer): void {
      consumer.apply(ConsistencyScopeMiddleware).forRoutes('{*path}')
    }
  }
  return AppModule
}

export function createApp(db: Kysely<NoteDatabase>): Promise<INestApplication> {
  return NestFactory.create(createAppModule(db), { logger: ['error', 'warn'] })
}
