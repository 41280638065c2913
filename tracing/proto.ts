import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoFile } from './proto-file.ts';

const PROTO = protoFile('tracing.proto');
const definition = protoLoader.loadSync(PROTO, { longs: Number, defaults: true, oneofs: true });
const pkg = (grpc.loadPackageDefinition(definition).raftkv as grpc.GrpcObject).tracing as grpc.GrpcObject;

export const TraceCollectorService = pkg.TraceCollector as grpc.ServiceClientConstructor;

/**
 * The largest message the tracing server accepts (64 MiB, as the servers' own gRPC
 * services). Senders put records in stream messages of at most TRACE_BATCH_BYTES (a
 * bigger record goes alone), and leave out what a single message cannot carry
 * (TRACE_RECORD_BYTES), so records of big values never wedge a stream.
 */
export const TRACE_MESSAGE_BYTES = 64 * 1024 * 1024;
export const TRACE_BATCH_BYTES = 4 * 1024 * 1024;
export const TRACE_RECORD_BYTES = TRACE_MESSAGE_BYTES - 1024 * 1024;

/** One stream message (tracing.proto EnvelopeBatch). */
export interface WireBatch {
  /** Trace lines, each ending in a newline (tracing/trace-line.ts). */
  lines: Buffer;
  /** History entries as JSON. */
  history: string[];
}
