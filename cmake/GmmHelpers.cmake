# gmm_library(NAME SOURCES... [DEPS ...]), gmm_test(NAME SOURCES... [DEPS ...] [LABELS ...])
# and gmm_test_group (below): one way to declare a component library and a Catch2 test binary.
function(gmm_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

function(gmm_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE gmm_test_main ${ARG_DEPS})
  if(ARG_LABELS)
    catch_discover_tests(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()

# gmm_test_group(TARGET LABEL SPEC [SUFFIX]): the test cases of a gmm_test
# made without LABELS that match Catch's test SPEC become ctests labelled
# LABEL, their names ending in SUFFIX (so one binary can feed several labels:
# core, concurrent, crash; host and vm).
function(gmm_test_group target label spec)
  set(suffix "")
  if(ARGC GREATER 3)
    set(suffix "${ARGV3}")
  endif()
  catch_discover_tests(${target} TEST_SPEC "${spec}" TEST_SUFFIX "${suffix}" PROPERTIES LABELS ${label})
endfunction()

# A VM scenario as a ctest, label vm: scenarios/NAME.yaml on QEMU guests
# (`make test` builds the guest image first). It fails, never skips, when
# QEMU or the image is missing: the scenario's "form the cluster" step fails
# with the reason. RUN_SERIAL: TCG guests on 2 cores must not share them
# with other tests.
function(gmm_vm_scenario_test name)
  add_test(NAME scenario.${name}
    COMMAND $<TARGET_FILE:gmm-host> --dir ${CMAKE_BINARY_DIR}/scenario-runs/${name}
            scenario ${PROJECT_SOURCE_DIR}/scenarios/${name}.yaml)
  set_tests_properties(scenario.${name} PROPERTIES LABELS vm TIMEOUT 900 RUN_SERIAL TRUE)
endfunction()
