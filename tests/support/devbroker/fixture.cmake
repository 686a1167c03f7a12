# Kafka dev broker: the mailferry-devbroker program (librdkafka's mock
# cluster in its own process), the `kafka` server fixture that runs it, and
# a smoke test against it. Included by tests/support/fixtures.cmake.

add_executable(mailferry-devbroker ${CMAKE_CURRENT_LIST_DIR}/devbroker.c
  ${CMAKE_CURRENT_LIST_DIR}/control.c)
target_link_libraries(mailferry-devbroker PRIVATE PkgConfig::RDKAFKA mf_flags)
set_target_properties(mailferry-devbroker PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)

mf_server_fixture(kafka SCRIPT ${CMAKE_CURRENT_LIST_DIR}/fixture)
# The fixture runs the program from the normal build; without it the start
# test is reported as not run instead of failing obscurely.
set_tests_properties(fixture.kafka.start PROPERTIES
  REQUIRED_FILES ${CMAKE_BINARY_DIR}/bin/mailferry-devbroker)

add_executable(smoke_kafka ${CMAKE_CURRENT_LIST_DIR}/smoke_kafka.c)
target_link_libraries(smoke_kafka PRIVATE mf_testsupport PkgConfig::RDKAFKA
  mf_flags)
# Label nosan: not in the sanitizer run (scripts/test). It runs no
# mailferry code, only librdkafka against the dev broker, which every
# Kafka test of that run uses anyway; its three group joins cost 13 s.
mf_integration_test(kafka.smoke COMMAND smoke_kafka
  FIXTURES kafka LABELS kafka nosan TIMEOUT 90)
# It reads the whole jobs topic and controls the brokers: it must not run
# beside other tests that use the dev broker.
set_tests_properties(integration.kafka.smoke PROPERTIES
  RESOURCE_LOCK kafka-devbroker)
