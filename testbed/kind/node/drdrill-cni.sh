#!/bin/bash
# Pod networking for drdrill's kind node image, in place of kindnetd: once the kubelet has
# joined, write a CNI config (ptp + host-local) for this node's spec.podCIDR, then keep a
# route to every other node's podCIDR via its InternalIP, and masquerade what pods send
# anywhere but another pod (as kindnetd does), so a reply never needs a route to pod
# addresses outside the nodes. Uses the kubelet's own credentials (the ClusterRole in
# /kind/manifests/default-cni.yaml lets nodes list Nodes).
set -u
KUBECONFIG=/etc/kubernetes/kubelet.conf
CONF=/etc/cni/net.d/10-drdrill-ptp.conflist
NODE=$(hostname)
export KUBECONFIG

sysctl -qw net.ipv4.ip_forward=1 || true

write_conf() {
  local cidr=$1 tmp
  tmp=$(mktemp /etc/cni/net.d/.drdrill.XXXXXX)
  cat >"$tmp" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "drdrill",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [{"dst": "0.0.0.0/0"}],
        "ranges": [[{"subnet": "$cidr"}]]
      },
      "mtu": 1500
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
  chmod 0644 "$tmp"
  mv -f "$tmp" "$CONF"
}

mkdir -p /etc/cni/net.d
# DRDRILL-MASQ: from this node's pods, RETURN for every podCIDR, MASQUERADE the rest
sync_masquerade() {
  local own=$1 want=$2 rules cidr
  rules=$(printf -- '-A DRDRILL-MASQ -d %s -j RETURN\n' $want)
  [[ $rules == "$masq_rules" ]] && return 0
  iptables -t nat -N DRDRILL-MASQ 2>/dev/null || iptables -t nat -F DRDRILL-MASQ
  for cidr in $want; do iptables -t nat -A DRDRILL-MASQ -d "$cidr" -j RETURN; done
  iptables -t nat -A DRDRILL-MASQ -j MASQUERADE
  iptables -t nat -C POSTROUTING -s "$own" -j DRDRILL-MASQ 2>/dev/null ||
    iptables -t nat -A POSTROUTING -s "$own" -j DRDRILL-MASQ
  masq_rules=$rules
}

configured=""
masq_rules=""
while true; do
  if [[ -s $KUBECONFIG ]]; then
    if [[ -z $configured ]]; then
      cidr=$(kubectl get node "$NODE" -o 'jsonpath={.spec.podCIDR}' 2>/dev/null)
      if [[ -n $cidr ]]; then
        write_conf "$cidr"
        configured=$cidr
        echo "drdrill-cni: $NODE pods in $cidr"
      fi
    fi
    cidrs=""
    while read -r name cidr ip; do
      [[ -z $cidr ]] && continue
      cidrs+=" $cidr"
      [[ $name == "$NODE" || -z $ip ]] && continue
      ip route replace "$cidr" via "$ip" 2>/dev/null || true
    done < <(kubectl get nodes -o 'jsonpath={range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' 2>/dev/null)
    # until Nodes can be listed, masquerade everything but this node's own pods
    [[ -n $cidrs ]] || cidrs=$configured
    if [[ -n $configured ]]; then
      sync_masquerade "$configured" "$(echo $cidrs | tr ' ' '\n' | sort -u)"
    fi
  fi
  if [[ -n $configured ]]; then sleep 5; else sleep 1; fi
done
