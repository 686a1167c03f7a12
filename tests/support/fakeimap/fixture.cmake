# Scripted fake IMAP server (a library for transcript tests), the session
# transcript tests that use it, and the session's integration test against
# the real Dovecot pair. Included by tests/support/fixtures.cmake; the
# tests are registered here rather than under tests/unit because they need
# mf_fakeimap, which tests/unit does not link.

add_library(mf_fakeimap STATIC ${CMAKE_CURRENT_LIST_DIR}/fakeimap.c)
target_include_directories(mf_fakeimap PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(mf_fakeimap PUBLIC mf_core Threads::Threads
                      PRIVATE mf_flags)

add_executable(test_imap_session ${CMAKE_CURRENT_LIST_DIR}/test_session.c)
target_link_libraries(test_imap_session PRIVATE mf_fakeimap mf_core
                      mf_testsupport PkgConfig::CMOCKA mf_flags)
target_include_directories(test_imap_session PRIVATE
                           ${PROJECT_SOURCE_DIR}/core/src)
add_test(NAME unit.imap.session COMMAND test_imap_session)
set_tests_properties(unit.imap.session PROPERTIES
  LABELS "unit;imap" TIMEOUT 60)

if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/itest_session.c)
  add_executable(itest_imap_session ${CMAKE_CURRENT_LIST_DIR}/itest_session.c)
  target_link_libraries(itest_imap_session PRIVATE mf_core mf_testsupport
                        PkgConfig::CMOCKA mf_flags)
  target_include_directories(itest_imap_session PRIVATE
                             ${PROJECT_SOURCE_DIR}/core/src)
  mf_integration_test(imap.session COMMAND itest_imap_session
    FIXTURES dovecot LABELS imap TIMEOUT 120)
endif()
