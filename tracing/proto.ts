import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

const PROTO = fileURLToPath(new URL('../protos/tracing.proto', import.meta.url));
const definition = protoLoader.loadSync(PROTO, { longs: Number, defaults: true, oneofs: true });
const pkg = (grpc.loadPackageDefinition(definition).raftkv as grpc.GrpcObject).tracing as grpc.GrpcObject;

export const TraceCollectorService = pkg.TraceCollector as grpc.ServiceClientConstructor;

interface WireTraceRecord {
  host: string;
  traceId: string;
  tag: string;
  body: string;
  clock: string;
}

export interface WireEnvelope {
  kind?: 'record' | 'history';
  record?: WireTraceRecord;
  history?: { json: string };
}

export interface WireEnvelopeBatch {
  items: WireEnvelope[];
}
