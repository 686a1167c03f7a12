# Server fixtures for integration tests.
#
# A fixture is a script `<script> start|stop` that starts (or stops) one
# kind of real server on 127.0.0.1 with free ports and a private temporary
# data directory. `start` writes $MF_TEST_RUN_DIR/<name>.env, shell-style
# KEY=VALUE lines (addresses, ports, PIDs, the data directory); `stop`
# reads it, ends exactly the processes it started (by PID) and removes the
# data directory. Tests read the .env file (testenv.h) to find the server.

function(mf_server_fixture name)
  cmake_parse_arguments(A "" "SCRIPT" "" ${ARGN})
  add_test(NAME fixture.${name}.start COMMAND ${A_SCRIPT} start)
  add_test(NAME fixture.${name}.stop COMMAND ${A_SCRIPT} stop)
  set_tests_properties(fixture.${name}.start PROPERTIES
    FIXTURES_SETUP ${name} LABELS "fixture;integration" TIMEOUT 120
    ENVIRONMENT "MF_TEST_RUN_DIR=${MF_TEST_RUN_DIR};MF_BUILD_DIR=${CMAKE_BINARY_DIR};MF_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  set_tests_properties(fixture.${name}.stop PROPERTIES
    FIXTURES_CLEANUP ${name} LABELS "fixture;integration" TIMEOUT 180
    ENVIRONMENT "MF_TEST_RUN_DIR=${MF_TEST_RUN_DIR};MF_BUILD_DIR=${CMAKE_BINARY_DIR};MF_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

# mf_integration_test(<name> COMMAND cmd... [FIXTURES f...] [LABELS l...]
#                     [TIMEOUT s])
# Registers integration.<name>, run with MF_TEST_RUN_DIR, MF_BUILD_DIR and
# MF_SOURCE_DIR in its environment.
function(mf_integration_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "COMMAND;FIXTURES;LABELS" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  add_test(NAME integration.${name} COMMAND ${A_COMMAND})
  set_tests_properties(integration.${name} PROPERTIES
    FIXTURES_REQUIRED "${A_FIXTURES}" LABELS "integration;${A_LABELS}"
    TIMEOUT ${A_TIMEOUT}
    ENVIRONMENT "MF_TEST_RUN_DIR=${MF_TEST_RUN_DIR};MF_BUILD_DIR=${CMAKE_BINARY_DIR};MF_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

# mf_long_test(<cost> <test>...): the tests start early in a parallel run,
# the higher <cost> (about their seconds) first. ctest puts every test a
# fixture's cleanup waits for (each user of a server fixture) before all
# tests that use none, whatever their COST, so long tests that start their
# own servers (private pairs: e2e, capsproof, oauth) began last, and a
# locked chain of them (mf-timing) ran alone at the end while a core idled.
# They require the fixture "long", which has a cleanup that does nothing
# (fixture.long.end): that puts them among the fixture users, where COST
# orders them.
add_test(NAME fixture.long.end COMMAND ${CMAKE_COMMAND} -E true)
set_tests_properties(fixture.long.end PROPERTIES
  FIXTURES_CLEANUP long LABELS "fixture;integration" TIMEOUT 30)
function(mf_long_test cost)
  foreach(t ${ARGN})
    set_property(TEST ${t} APPEND PROPERTY FIXTURES_REQUIRED long)
    set_property(TEST ${t} PROPERTY COST ${cost})
  endforeach()
endfunction()

# Fixture registrations: one file per server kind, each next to its script.
file(GLOB MF_FIXTURE_FILES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*/fixture.cmake)
foreach(f ${MF_FIXTURE_FILES})
  include(${f})
endforeach()
