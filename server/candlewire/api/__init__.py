"""gRPC layer: generated protobuf code (v1, testing) and the servicers that map it to the domain."""
