# Copies Debian's onnx.proto (libonnx-dev) to OUT with the recursive fields removed: a subgraph in an
# attribute (AttributeProto.g / .graphs: If, Loop, Scan) and the nested types of TypeProto (sequence,
# map and optional element types). Without them the schema has no cycle, so protobuf-c's unpacker
# recurses at most a fixed depth whatever the input; the removed fields are skipped as unknown fields.
# xaic imports none of those constructs (their nodes are reported as unsupported ops).
#   cmake -DIN=/usr/include/onnx/onnx.proto -DOUT=build/.../onnx.proto -P onnx_proto_filter.cmake
file(READ "${IN}" text)
set(removals
  "  optional GraphProto g = 6;"
  "  repeated GraphProto graphs = 11;"
  "    optional TypeProto elem_type = 1;"
  "    optional TypeProto value_type = 2;")
foreach(line IN LISTS removals)
  string(FIND "${text}" "${line}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "onnx.proto (${IN}) no longer holds '${line}': update compiler/import/onnx_proto_filter.cmake")
  endif()
  string(REPLACE "${line}" "  // (removed by xaic: recursive)" text "${text}")
endforeach()
# Any message that still refers to itself or to GraphProto / TypeProto below the top would be a new cycle.
string(REGEX MATCHALL "optional GraphProto [a-z_]+ = [0-9]+;|repeated GraphProto [a-z_]+ = [0-9]+;" graph_refs "${text}")
list(LENGTH graph_refs n_graph_refs)
if(NOT n_graph_refs EQUAL 3)   # ModelProto.graph, TrainingInfoProto.initialization and .algorithm
  message(FATAL_ERROR "onnx.proto refers to GraphProto ${n_graph_refs} times (expected 3): check for new recursion")
endif()
file(WRITE "${OUT}" "${text}")
