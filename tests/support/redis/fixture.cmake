# redis-server fixture (Debian's /usr/bin/redis-server on loopback and a
# unix socket, AOF on) and a smoke test against it. Included by
# tests/support/fixtures.cmake.

mf_server_fixture(redis SCRIPT ${CMAKE_CURRENT_LIST_DIR}/fixture)
# A second server that requires AUTH (requirepass and an ACL user, issue
# 17 item 3): suites registered again against it (*_auth tests) prove
# every Redis client authenticates.
mf_server_fixture(redis_auth SCRIPT ${CMAKE_CURRENT_LIST_DIR}/fixture-auth)

add_executable(smoke_redis ${CMAKE_CURRENT_LIST_DIR}/smoke_redis.c)
target_link_libraries(smoke_redis PRIVATE mf_testsupport PkgConfig::HIREDIS
  mf_flags)
mf_integration_test(redis.smoke COMMAND smoke_redis
  FIXTURES redis LABELS redis TIMEOUT 60)
