//go:build tools

// Package kubeadmcheck only pins the real kubeadm in this module's go.mod
// (the blank import keeps k8s.io/kubernetes/cmd/kubeadm required). Build it
// with
//
//	go build -C tools/kubeadmcheck -o <dir>/kubeadm k8s.io/kubernetes/cmd/kubeadm
//
// components/kubeadm's tests do that and run `kubeadm config validate` on
// every rendered config.
package kubeadmcheck

import _ "k8s.io/kubernetes/cmd/kubeadm"
