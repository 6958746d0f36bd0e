# The module graph of pdnsx, declared once: every module, program library
# and program, and what it may use. The targets themselves are declared in
# their folders (px_module, px_program_lib, px_program: cmake/PxModules.cmake)
# with the third-party libraries they link; their pdnsx dependencies come
# from here, and px_check_graph() refuses any link or private include
# outside this graph. Changing a row changes the architecture: say why in
# the commit.
#
# px_graph(NAME [DEPS m...] [DIR folder])

# Modules (libraries any program may link).
px_graph(core)                                  # errors, log, config, CLI, metrics, HTTP server, ...
px_graph(dns DEPS core)                         # DNS wire parser, names, types, addresses
px_graph(obs DEPS dns core)                     # the observation: Avro codec, validation, PSL, privacy rules
px_graph(kafka DEPS core)                       # librdkafka configuration shared by every Kafka client
px_graph(store DEPS obs dns core)               # the LMDB store
px_graph(query DEPS detect store obs dns kafka core) # lookups, COF, the HTTP endpoint, the cluster merge and routing (kafka: the partitioner only)
# Detection (issue 11): fed by the store's change feed, never the store.
px_graph(detect DEPS obs dns core DIR detect)

# Program libraries (each its one program's own) and programs.
px_graph(producer DEPS obs dns kafka core)                   # pdnsx-producer
px_graph(consumer DEPS query detect store obs dns kafka core) # pdnsx-consumer
px_graph(query_cli DEPS query detect store obs dns kafka core DIR query/cli) # pdnsx-query (--cluster on libcurl)
px_graph(pdnsx-tail DEPS obs kafka core)
px_graph(pdnsx-broker DEPS kafka core)
px_graph(pdnsx-scenario DEPS dns core)                      # the demo scenario generator
