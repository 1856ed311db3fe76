# gmm_library(NAME SOURCES... [DEPS ...]) and gmm_test(NAME SOURCES... [DEPS ...] [LABELS ...]):
# one way to declare a component library and a Catch2 test binary.
function(gmm_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

function(gmm_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE gmm_test_main ${ARG_DEPS})
  catch_discover_tests(${name} PROPERTIES LABELS "${ARG_LABELS}")
endfunction()
