# Cyrus pair fixture: a "source" and a "target" Cyrus IMAP 3.6 on
# 127.0.0.1, run from the packages scripts/setup unpacked (see the comment
# at the top of ./fixture and README.md), and its smoke tests. Label cyrus:
# the sanitizer run of scripts/test leaves them out, as it does the tests
# that need them.
mf_server_fixture(cyrus SCRIPT ${CMAKE_CURRENT_LIST_DIR}/fixture)
set_tests_properties(fixture.cyrus.start fixture.cyrus.stop PROPERTIES
  LABELS "fixture;integration;cyrus")

foreach(check namespace proxyauth)
  mf_integration_test(cyrus.smoke.${check}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/smoke.py ${check}
    FIXTURES cyrus LABELS imap cyrus TIMEOUT 60)
endforeach()
