# redis-server fixture (Debian's /usr/bin/redis-server on loopback and a
# unix socket, AOF on) and a smoke test against it. Included by
# tests/support/fixtures.cmake.

mf_server_fixture(redis SCRIPT ${CMAKE_CURRENT_LIST_DIR}/fixture)
# A second server that requires AUTH (requirepass and an ACL user, issue
# 17 item 3): suites registered again against it (*_auth tests) prove
# every Redis client authenticates.
mf_server_fixture(redis_auth SCRIPT ${CMAKE_CURRENT_LIST_DIR}/fixture-auth)
# A third, for the fault tests that restart their server: they hold
# RESOURCE_LOCK redis_restart instead of running alone (RUN_SERIAL), and
# find it through mf_redis_restart_test() below.
mf_server_fixture(redis_restart SCRIPT ${CMAKE_CURRENT_LIST_DIR}/fixture-restart)

# mf_redis_restart_test(<test>): <test> (registered with FIXTURES
# redis_restart) reads that server's .env (MF_TEST_REDIS_FIXTURE) and
# restarts it through the fixture script (MF_REDIS_FIXTURE), one such test
# at a time.
function(mf_redis_restart_test test)
  set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT
    "MF_TEST_REDIS_FIXTURE=redis_restart;MF_REDIS_FIXTURE=redis_restart")
  set_property(TEST ${test} APPEND PROPERTY RESOURCE_LOCK redis_restart)
endfunction()

add_executable(smoke_redis ${CMAKE_CURRENT_LIST_DIR}/smoke_redis.c)
target_link_libraries(smoke_redis PRIVATE mf_testsupport PkgConfig::HIREDIS
  mf_flags)
mf_integration_test(redis.smoke COMMAND smoke_redis
  FIXTURES redis LABELS redis TIMEOUT 60)
