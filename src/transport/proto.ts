import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoFile } from '../../tracing/proto-file.ts';

const PROTO = protoFile('raftkv.proto');

/** proto-loader turns snake_case fields into camelCase and 64-bit ints into numbers. */
const definition = protoLoader.loadSync(PROTO, { longs: Number, defaults: true, oneofs: true, enums: String });
const pkg = grpc.loadPackageDefinition(definition).raftkv as grpc.GrpcObject;

export const RaftPeerService = pkg.RaftPeer as grpc.ServiceClientConstructor;
export const KVService = pkg.KV as grpc.ServiceClientConstructor;
export const AdminService = pkg.Admin as grpc.ServiceClientConstructor;

/**
 * The largest gRPC message either side sends or accepts, in bytes (64 MiB): what bounds
 * one Raft batch on the wire, and so the largest entry a node can replicate
 * (MAX_ENTRY_BYTES in wire-size.ts).
 */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * Channel options for every client: reconnect fast after a peer restarts (the default
 * backoff grows to two minutes), and keep messages within a sane bound.
 */
export const channelOptions: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.min_reconnect_backoff_ms': 100,
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
};

export const serverOptions: grpc.ServerOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
};
