import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoFile } from './proto-file.ts';

const PROTO = protoFile('tracing.proto');
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
