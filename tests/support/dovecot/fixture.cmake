# Dovecot pair fixture: a "source" and a "target" Dovecot 2.3 on 127.0.0.1
# (see the comment at the top of ./fixture), and its smoke tests, one ctest
# test per check of smoke.py.
mf_server_fixture(dovecot SCRIPT ${CMAKE_CURRENT_LIST_DIR}/fixture)

foreach(check login tls corpus listescape limits)
  mf_integration_test(dovecot.smoke.${check}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/smoke.py ${check}
    FIXTURES dovecot LABELS imap dovecot TIMEOUT 120)
endforeach()
