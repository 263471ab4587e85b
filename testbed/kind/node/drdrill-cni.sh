#!/bin/bash
# Pod networking for drdrill's kind node image, in place of kindnetd: once the kubelet has
# joined, write a CNI config (ptp + host-local) for this node's spec.podCIDR, then keep a
# route to every other node's podCIDR via its InternalIP. Uses the kubelet's own credentials
# (the node authorizer lets a node read Nodes).
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
configured=""
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
    kubectl get nodes -o 'jsonpath={range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' 2>/dev/null |
      while read -r name cidr ip; do
        [[ $name == "$NODE" || -z $cidr || -z $ip ]] && continue
        ip route replace "$cidr" via "$ip" 2>/dev/null || true
      done
  fi
  if [[ -n $configured ]]; then sleep 5; else sleep 1; fi
done
