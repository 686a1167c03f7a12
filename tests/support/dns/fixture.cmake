# DNS fixture: dnsmasq serving MX records with a low and a high TTL on
# 127.0.0.1 (see the comment at the top of ./fixture).
mf_server_fixture(dns SCRIPT ${CMAKE_CURRENT_LIST_DIR}/fixture)
