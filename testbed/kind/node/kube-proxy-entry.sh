#!/bin/sh
# kube-proxy image entry: use the iptables backend (legacy or nft) that already holds rules on
# this node, as the iptables-wrappers of upstream images do, then run the real kube-proxy.
legacy=$( (iptables-legacy-save || true; ip6tables-legacy-save || true) 2>/dev/null | grep -c '^-' || true)
nft=$( (timeout 5 sh -c "iptables-nft-save; ip6tables-nft-save" || true) 2>/dev/null | grep -c '^-' || true)
if [ "${legacy:-0}" -ge "${nft:-0}" ]; then mode=legacy; else mode=nft; fi
update-alternatives --set iptables "/usr/sbin/iptables-$mode" >/dev/null 2>&1 || true
update-alternatives --set ip6tables "/usr/sbin/ip6tables-$mode" >/dev/null 2>&1 || true
exec /usr/local/bin/kube-proxy.bin "$@"
