package components_test

import (
	"strings"
	"testing"
	"time"
)

// The node under test: nixlab-workers-1 in VM 9201; control planes 9100 and
// 9101. The fakes are described in scripts_vmdrain_fakes_test.go.
const (
	vdNode    = "nixlab-workers-1"
	vdNodeVM  = "9201"
	vdCP1     = "9100"
	vdCP2     = "9101"
	vdDrainOK = "drain " + vdNode + " --ignore-daemonsets --delete-emptydir-data --timeout=120s"
)

// vdCluster is a running cluster: both control planes up, the worker VM
// running and registered.
func vdCluster(t *testing.T) *vmDrainWorld {
	t.Helper()
	w := newVMDrainWorld(t)
	w.vm(t, vdCP1, "running").vm(t, vdCP2, "running").vm(t, vdNodeVM, "running")
	w.node(t, "nixlab-cp-1").node(t, "nixlab-cp-2").node(t, vdNode)
	return w
}

func vdDrain(t *testing.T, w *vmDrainWorld, cps ...string) scriptResult {
	t.Helper()
	if len(cps) == 0 {
		cps = []string{vdCP1, vdCP2}
	}
	return w.run(t, append([]string{"drain", vdNode, vdNodeVM, "120"}, cps...)...)
}

func vdUncordon(t *testing.T, w *vmDrainWorld, timeout string) scriptResult {
	t.Helper()
	return w.run(t, "uncordon", vdNode, vdNodeVM, timeout, vdCP1, vdCP2)
}

// vdNoGuestCalls fails when anything ran inside a VM.
func vdNoGuestCalls(t *testing.T, w *vmDrainWorld) {
	t.Helper()
	if c := w.calls(t); strings.Contains(c, "guest exec") {
		t.Errorf("a command ran through a guest agent:\n%s", c)
	}
}

// TestScriptVmDrain_NothingToDrain: the cases that end with exit 0 and
// "skipped" without touching the cluster.
func TestScriptVmDrain_NothingToDrain(t *testing.T) {
	cases := []struct {
		name    string
		world   func(t *testing.T, w *vmDrainWorld)
		want    string
		noGuest bool
	}{
		{"node VM absent (still to be cloned)", func(t *testing.T, w *vmDrainWorld) {
			w.vm(t, vdCP1, "running")
		}, "VM 9201 does not exist yet (a node still to be cloned): nothing to drain", true},
		{"node VM stopped", func(t *testing.T, w *vmDrainWorld) {
			w.vm(t, vdCP1, "running").vm(t, vdNodeVM, "stopped")
		}, "VM 9201 is stopped, not running: nothing to drain", true},
		{"no control plane exists or runs (fresh cluster)", func(t *testing.T, w *vmDrainWorld) {
			w.vm(t, vdNodeVM, "running").vm(t, vdCP2, "stopped")
		}, "no control plane runs a cluster yet (VM 9100 does not exist; VM 9101 is stopped): nothing to drain", true},
		{"control plane runs but kubeadm has not run", func(t *testing.T, w *vmDrainWorld) {
			w.vm(t, vdNodeVM, "running").vm(t, vdCP1, "running").vm(t, vdCP2, "running")
			w.set(t, "vms/"+vdCP1+"/noconf", "")
			w.set(t, "vms/"+vdCP2+"/noconf", "")
		}, "no control plane runs a cluster yet (VM 9100 has no /etc/kubernetes/admin.conf yet; VM 9101 has no /etc/kubernetes/admin.conf yet)", false},
		{"node not registered", func(t *testing.T, w *vmDrainWorld) {
			w.vm(t, vdNodeVM, "running").vm(t, vdCP1, "running")
			w.node(t, "nixlab-cp-1")
		}, "[" + vdNode + "] not in the cluster (no Node object): nothing to drain", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newVMDrainWorld(t)
			c.world(t, w)
			res := vdDrain(t, w)
			if res.code != 0 || res.stdout != "skipped\n" {
				t.Fatalf("exit %d stdout %q, want 0 and skipped", res.code, res.stdout)
			}
			scriptMustContain(t, "stderr", res.stderr, c.want)
			if c.noGuest {
				vdNoGuestCalls(t, w)
			}
			for _, verb := range []string{"annotate", "cordon", "drain"} {
				if strings.Contains(w.calls(t), " "+verb+" ") {
					t.Errorf("kubectl %s ran:\n%s", verb, w.calls(t))
				}
			}
		})
	}
}

// TestScriptVmDrain_NoControlPlaneAnswers: a control plane runs but cannot
// be reached while the node's VM runs: draining blind is refused, every VM
// tried is named with its reason.
func TestScriptVmDrain_NoControlPlaneAnswers(t *testing.T) {
	cases := []struct {
		name  string
		world func(t *testing.T, w *vmDrainWorld)
		wants []string
	}{
		{"agent down", func(t *testing.T, w *vmDrainWorld) {
			w.vm(t, vdCP1, "running")
			w.set(t, "vms/"+vdCP1+"/agent-down", "")
		}, []string{"VM 9100: QEMU guest agent is not running", "VM 9101 does not exist"}},
		{"API server refuses", func(t *testing.T, w *vmDrainWorld) {
			w.vm(t, vdCP1, "stopped").vm(t, vdCP2, "running")
			w.set(t, "vms/"+vdCP2+"/refused", "")
		}, []string{"VM 9100 is stopped", "VM 9101: 'kubectl get --raw /readyz' failed: The connection to the server 192.0.2.10:6443 was refused"}},
		{"readyz outlives qm's timeout (pid only)", func(t *testing.T, w *vmDrainWorld) {
			w.vm(t, vdCP1, "running").vm(t, vdCP2, "running")
			w.set(t, "vms/"+vdCP1+"/hang", "/readyz")
			w.set(t, "vms/"+vdCP2+"/noconf", "")
		}, []string{"VM 9100: kubectl was still running after 60 s (qm guest exec returned only its pid 4242", "VM 9101 has no /etc/kubernetes/admin.conf yet"}},
		// qm itself stuck (a hung agent socket): the host's timeout ends it
		// after qm's own --timeout plus the grace, TERM (124) or KILL (137).
		{"qm never returns (timeout: TERM)", func(t *testing.T, w *vmDrainWorld) {
			w.vm(t, vdCP1, "running")
			w.set(t, "vms/"+vdCP1+"/qm-hangs", "124")
		}, []string{"VM 9100: qm guest exec 9100 did not return within 90 s", "VM 9101 does not exist"}},
		{"qm never returns (timeout: KILL)", func(t *testing.T, w *vmDrainWorld) {
			w.vm(t, vdCP1, "running")
			w.set(t, "vms/"+vdCP1+"/qm-hangs", "137")
		}, []string{"VM 9100: qm guest exec 9100 did not return within 90 s"}},
		{"unreadable answer", func(t *testing.T, w *vmDrainWorld) {
			w.vm(t, vdCP1, "running")
			w.set(t, "vms/"+vdCP1+"/garbage", "Agent error: garbled reply\n")
		}, []string{"VM 9100: qm guest exec printed no exec status: Agent error: garbled reply"}},
		{"answer without exit status", func(t *testing.T, w *vmDrainWorld) {
			w.vm(t, vdCP1, "running")
			w.set(t, "vms/"+vdCP1+"/garbage", "{\n   \"exited\" : 0\n}\n")
		}, []string{"VM 9100: qm guest exec printed no exec status: {"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newVMDrainWorld(t)
			w.vm(t, vdNodeVM, "running").node(t, vdNode)
			c.world(t, w)
			res := vdDrain(t, w)
			if res.code != 1 || res.stdout != "" {
				t.Fatalf("exit %d stdout %q, want 1 and nothing", res.code, res.stdout)
			}
			scriptMustContain(t, "stderr", res.stderr, append([]string{
				"[" + vdNode + "] failed: cannot drain " + vdNode + " safely: no control-plane VM answered through its guest agent"}, c.wants...)...)
			if w.has("cluster/unschedulable/" + vdNode) {
				t.Errorf("node cordoned although no control plane answered")
			}
			if strings.Contains(res.stderr, "using the control plane") {
				t.Errorf("a control plane was used:\n%s", res.stderr)
			}
		})
	}
}

// TestScriptVmDrain_Drains: annotate, cordon, drain (argv checked), in that
// order, through the first control plane that answers; qm waits longer than
// the drain may take.
func TestScriptVmDrain_Drains(t *testing.T) {
	cases := []struct {
		name  string
		world func(t *testing.T, w *vmDrainWorld)
		cp    string
	}{
		{"first control plane", func(*testing.T, *vmDrainWorld) {}, vdCP1},
		{"first one's agent down: the next", func(t *testing.T, w *vmDrainWorld) {
			w.set(t, "vms/"+vdCP1+"/agent-down", "")
		}, vdCP2},
		{"first one's readyz returns only a pid: the next", func(t *testing.T, w *vmDrainWorld) {
			w.set(t, "vms/"+vdCP1+"/hang", "/readyz")
		}, vdCP2},
		{"first one's qm never returns: the next", func(t *testing.T, w *vmDrainWorld) {
			w.set(t, "vms/"+vdCP1+"/qm-hangs", "124")
		}, vdCP2},
		{"first one's answer unreadable: the next", func(t *testing.T, w *vmDrainWorld) {
			w.set(t, "vms/"+vdCP1+"/garbage", "not JSON\n")
		}, vdCP2},
		{"first one's readyz killed by a signal: the next", func(t *testing.T, w *vmDrainWorld) {
			w.set(t, "vms/"+vdCP1+"/signal", "/readyz")
		}, vdCP2},
		// An earlier run was interrupted after cordoning: still ours.
		{"re-run after an interrupted drain", func(t *testing.T, w *vmDrainWorld) {
			w.set(t, "cluster/unschedulable/"+vdNode, "")
			w.set(t, "cluster/annotation/"+vdNode, "draining")
		}, vdCP1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := vdCluster(t)
			c.world(t, w)
			res := vdDrain(t, w)
			if res.code != 0 || res.stdout != "drained\n" {
				t.Fatalf("exit %d stdout %q, want 0 and drained", res.code, res.stdout)
			}
			scriptMustContain(t, "stderr", res.stderr,
				"["+vdNode+"] using the control plane in VM "+c.cp,
				"["+vdNode+"] draining before its VM update (up to 2 minutes; PodDisruptionBudgets are honoured)",
				"["+vdNode+"] drained")
			got := w.kubectlCalls(t, c.cp)
			want := []string{
				"--kubeconfig /etc/kubernetes/admin.conf --cache-dir=/root/.kube/cache --request-timeout=30s get --raw /readyz",
				"--kubeconfig /etc/kubernetes/admin.conf --cache-dir=/root/.kube/cache --request-timeout=30s get node " + vdNode + " -o jsonpath=" + vmDrainNodeFields,
				"--kubeconfig /etc/kubernetes/admin.conf --cache-dir=/root/.kube/cache --request-timeout=30s annotate node " + vdNode + " nixlab.io/vm-update=draining --overwrite",
				"--kubeconfig /etc/kubernetes/admin.conf --cache-dir=/root/.kube/cache --request-timeout=30s cordon " + vdNode,
				"--kubeconfig /etc/kubernetes/admin.conf --cache-dir=/root/.kube/cache " + vdDrainOK,
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("kubectl calls in VM %s:\n%s\nwant:\n%s", c.cp, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			// qm guest exec's --timeout must exceed kubectl drain's.
			scriptMustContain(t, "calls", w.calls(t), "qm guest exec "+c.cp+" --timeout 180 -- /run/current-system/sw/bin/kubectl --kubeconfig /etc/kubernetes/admin.conf --cache-dir=/root/.kube/cache "+vdDrainOK)
			if !w.has("cluster/drained/"+vdNode) || !w.has("cluster/unschedulable/"+vdNode) || scriptReadFile(t, w.dir+"/cluster/annotation/"+vdNode) != "draining" {
				t.Errorf("want the node drained, cordoned and annotated")
			}
			if strings.Contains(w.calls(t), "kubectl@"+vdNodeVM) {
				t.Errorf("the node's own VM was used")
			}
			// The host's timeout around qm: qm status 60 s; a short request
			// its 60 s plus 30 s of grace; the drain 180 + 30 s.
			scriptMustContain(t, "timeouts", scriptReadFile(t, w.dir+"/timeouts"), "5 60\n", "5 90\n", "5 210\n")
		})
	}
}

// TestScriptVmDrain_DrainFails: a PodDisruptionBudget blocks the drain
// until its timeout, or the drain outlives qm's wait: the node is
// uncordoned again (nixlab cordoned it) and the run fails naming the node,
// the drain, its minutes and kubectl's output.
func TestScriptVmDrain_DrainFails(t *testing.T) {
	cases := []struct {
		name  string
		world func(t *testing.T, w *vmDrainWorld)
		wants []string
	}{
		{"PodDisruptionBudget until the timeout", func(t *testing.T, w *vmDrainWorld) {
			w.set(t, "cluster/pdb", "")
		}, []string{
			"[" + vdNode + "]   | error: error when evicting pods/\"web-0\" -n \"default\": global timeout reached: 2m0s",
			"[" + vdNode + "]   | evicting pod default/web-0",
		}},
		{"PodDisruptionBudget, output truncated by the agent", func(t *testing.T, w *vmDrainWorld) {
			w.set(t, "cluster/pdb", "")
			w.set(t, "vms/"+vdCP1+"/truncate", "")
		}, []string{"[" + vdNode + "]   | (stderr truncated by the guest agent)"}},
		{"drain outlives qm's wait (pid only)", func(t *testing.T, w *vmDrainWorld) {
			w.set(t, "vms/"+vdCP1+"/hang", "drain ")
		}, []string{"[" + vdNode + "]   | kubectl was still running after 180 s (qm guest exec returned only its pid 4242"}},
		{"kubectl drain killed by a signal", func(t *testing.T, w *vmDrainWorld) {
			w.set(t, "vms/"+vdCP1+"/signal", "drain ")
		}, []string{"[" + vdNode + "]   | evicting pod default/web-0", "[" + vdNode + "]   | (kubectl was killed by signal 9)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := vdCluster(t)
			c.world(t, w)
			res := vdDrain(t, w)
			if res.code != 1 || res.stdout != "" {
				t.Fatalf("exit %d stdout %q, want 1 and nothing", res.code, res.stdout)
			}
			scriptMustContain(t, "stderr", res.stderr, append([]string{
				"[" + vdNode + "] failed: kubectl drain " + vdNode + " did not finish within 2 minutes (nixlab:updates.drainTimeoutMinutes); nixlab uncordoned it again and its VM was NOT updated",
				"[" + vdNode + "] uncordoned again",
			}, c.wants...)...)
			if w.has("cluster/unschedulable/"+vdNode) || w.has("cluster/annotation/"+vdNode) {
				t.Errorf("want the node uncordoned and its annotation removed after the failed drain")
			}
			calls := strings.Join(w.kubectlCalls(t, vdCP1), "\n")
			if d, u := strings.Index(calls, "drain "), strings.Index(calls, "uncordon "); d < 0 || u < d {
				t.Errorf("want drain, then uncordon:\n%s", calls)
			}
			if w.has("cluster/drained/" + vdNode) {
				t.Errorf("the fake drain finished although it failed")
			}
		})
	}
}

// TestScriptVmDrain_QmStatusFails: a `qm status` that fails otherwise than
// for a missing VM, or prints something else than its status line, ends
// the run before anything runs in a guest.
func TestScriptVmDrain_QmStatusFails(t *testing.T) {
	cases := []struct {
		name, file, text string
		wants            []string
	}{
		{"qm status fails", "status-error", "ipcc_send_rec[1] failed: Connection refused\n", []string{
			"[" + vdNode + "] failed: cannot read the status of VM 9201 ('qm status 9201' exited 2)",
			"[" + vdNode + "]   | ipcc_send_rec[1] failed: Connection refused"}},
		{"qm status prints a warning first", "status-out", "Use of uninitialized value in concatenation\nstatus: running\n", []string{
			"[" + vdNode + "] failed: 'qm status 9201' printed something else than 'status: <state>'"}},
	}
	for _, c := range cases {
		for _, mode := range []string{"drain", "uncordon"} {
			t.Run(c.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				w := vdCluster(t)
				w.set(t, "cluster/annotation/"+vdNode, "draining")
				w.set(t, "vms/"+vdNodeVM+"/"+c.file, c.text)
				res := w.run(t, mode, vdNode, vdNodeVM, "120", vdCP1, vdCP2)
				if res.code != 1 || res.stdout != "" {
					t.Fatalf("exit %d stdout %q, want 1 and nothing", res.code, res.stdout)
				}
				scriptMustContain(t, "stderr", res.stderr, c.wants...)
				vdNoGuestCalls(t, w)
			})
		}
	}
}

// TestScriptVmDrain_KubectlFails: a kubectl request other than the drain
// fails (not NotFound): the run fails naming the request and kubectl's
// error, and goes no further; a failed cordon removes the annotation again.
func TestScriptVmDrain_KubectlFails(t *testing.T) {
	const unauthorized = "error: You must be logged in to the server (Unauthorized)"
	cases := []struct {
		name, mode, failing string
		wants               []string
		annotated           bool // the node's annotation after the run
	}{
		{"read node (drain)", "drain", "get node ", []string{"failed: cannot read Node " + vdNode + " through VM 9100"}, false},
		{"annotate", "drain", "annotate node " + vdNode + " nixlab.io/vm-update=draining", []string{"failed: cannot annotate Node " + vdNode + " with nixlab.io/vm-update=draining"}, false},
		{"cordon", "drain", "cordon ", []string{"failed: kubectl cordon " + vdNode + " failed"}, false},
		{"read node (uncordon)", "uncordon", "get node ", []string{"failed: cannot read Node " + vdNode + " through VM 9100"}, true},
		{"uncordon", "uncordon", "uncordon ", []string{"failed: kubectl uncordon " + vdNode + " failed"}, true},
		{"remove the annotation", "uncordon", "nixlab.io/vm-update-", []string{"failed: cannot remove the nixlab.io/vm-update annotation from Node " + vdNode}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := vdCluster(t)
			if c.mode == "uncordon" {
				w.set(t, "cluster/unschedulable/"+vdNode, "")
				w.set(t, "cluster/annotation/"+vdNode, "draining")
			}
			w.set(t, "vms/"+vdCP1+"/error", c.failing+"\n"+unauthorized+"\n")
			res := w.run(t, c.mode, vdNode, vdNodeVM, "30", vdCP1, vdCP2)
			if res.code != 1 || res.stdout != "" {
				t.Fatalf("exit %d stdout %q, want 1 and nothing", res.code, res.stdout)
			}
			scriptMustContain(t, "stderr", res.stderr, "["+vdNode+"] "+c.wants[0], "["+vdNode+"]   | "+unauthorized)
			calls := w.calls(t)
			if strings.Contains(calls, " drain ") || w.has("cluster/drained/"+vdNode) {
				t.Errorf("drained after a failed request:\n%s", calls)
			}
			if w.has("cluster/annotation/"+vdNode) != c.annotated {
				t.Errorf("annotated = %v, want %v", !c.annotated, c.annotated)
			}
			if c.mode == "drain" && c.failing != "get node " && c.failing != "cordon " && w.has("cluster/unschedulable/"+vdNode) {
				t.Errorf("cordoned after a failed annotation")
			}
		})
	}
}

// TestScriptVmDrain_CordonedBySomeoneElse: a node already unschedulable
// without nixlab's annotation is drained but never annotated, and neither a
// failed drain nor the uncordon step uncordons it.
func TestScriptVmDrain_CordonedBySomeoneElse(t *testing.T) {
	t.Parallel()
	w := vdCluster(t)
	w.set(t, "cluster/unschedulable/"+vdNode, "")
	res := vdDrain(t, w)
	if res.code != 0 || res.stdout != "drained-left-cordoned\n" {
		t.Fatalf("exit %d stdout %q", res.code, res.stdout)
	}
	scriptMustContain(t, "stderr", res.stderr, "already cordoned by someone else (no nixlab.io/vm-update annotation)")
	if !w.has("cluster/drained/" + vdNode) {
		t.Errorf("not drained")
	}
	if w.has("cluster/annotation/" + vdNode) {
		t.Errorf("annotated although someone else cordoned it")
	}
	res = vdUncordon(t, w, "5")
	if res.code != 0 || res.stdout != "skipped\n" {
		t.Fatalf("uncordon: exit %d stdout %q", res.code, res.stdout)
	}
	scriptMustContain(t, "stderr", res.stderr, "not cordoned by nixlab (no nixlab.io/vm-update annotation): left as it is")
	if !w.has("cluster/unschedulable/" + vdNode) {
		t.Errorf("uncordoned a node someone else cordoned")
	}

	t.Run("failed drain leaves it cordoned", func(t *testing.T) {
		t.Parallel()
		w := vdCluster(t)
		w.set(t, "cluster/unschedulable/"+vdNode, "")
		w.set(t, "cluster/pdb", "")
		res := vdDrain(t, w)
		if res.code != 1 {
			t.Fatalf("exit %d", res.code)
		}
		scriptMustContain(t, "stderr", res.stderr, "it was cordoned before nixlab drained it, so it stays cordoned")
		if !w.has("cluster/unschedulable/" + vdNode) {
			t.Errorf("uncordoned a node someone else cordoned")
		}
		if strings.Contains(w.calls(t), "uncordon") || strings.Contains(w.calls(t), "annotate") {
			t.Errorf("touched the node's cordon or annotation:\n%s", w.calls(t))
		}
	})
}

// TestScriptVmDrain_Uncordon: with nixlab's annotation the step waits for
// Ready, then uncordons and removes the annotation; not Ready in time fails
// in seconds, leaving the node cordoned and annotated.
func TestScriptVmDrain_Uncordon(t *testing.T) {
	t.Run("waits for Ready", func(t *testing.T) {
		t.Parallel()
		w := vdCluster(t)
		w.set(t, "cluster/unschedulable/"+vdNode, "")
		w.set(t, "cluster/annotation/"+vdNode, "draining")
		w.set(t, "cluster/notready/"+vdNode, "2")
		res := vdUncordon(t, w, "30")
		if res.code != 0 || res.stdout != "uncordoned\n" {
			t.Fatalf("exit %d stdout %q", res.code, res.stdout)
		}
		scriptMustContain(t, "stderr", res.stderr, "["+vdNode+"] waiting up to 30 s for the node to be Ready", "["+vdNode+"] uncordoned after its VM update")
		calls := strings.Join(w.kubectlCalls(t, vdCP1), "\n")
		if n := strings.Count(calls, "get node "+vdNode); n != 3 {
			t.Errorf("%d node reads, want 3 (NotReady twice, then Ready)", n)
		}
		if r, u := strings.LastIndex(calls, "get node "), strings.Index(calls, "uncordon "+vdNode); u < r {
			t.Errorf("uncordoned before Ready:\n%s", calls)
		}
		if w.has("cluster/unschedulable/"+vdNode) || w.has("cluster/annotation/"+vdNode) {
			t.Errorf("want the node uncordoned and the annotation removed")
		}
	})
	t.Run("never Ready", func(t *testing.T) {
		t.Parallel()
		w := vdCluster(t)
		w.set(t, "cluster/unschedulable/"+vdNode, "")
		w.set(t, "cluster/annotation/"+vdNode, "draining")
		w.set(t, "cluster/notready/"+vdNode, "never")
		start := time.Now()
		res := vdUncordon(t, w, "3")
		if res.code != 1 || res.stdout != "" {
			t.Fatalf("exit %d stdout %q", res.code, res.stdout)
		}
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("a 3 s wait took %s", took)
		}
		scriptMustContain(t, "stderr", res.stderr, "["+vdNode+"] failed: not Ready within 3 s after its VM update; it stays cordoned",
			"Ready condition: False (KubeletNotReady: container runtime network not ready: NetworkReady=false)")
		if !w.has("cluster/unschedulable/"+vdNode) || !w.has("cluster/annotation/"+vdNode) {
			t.Errorf("want the node still cordoned and annotated")
		}
	})
	// With a 1 s timeout and 1 s polls the wait gives up at the first poll
	// at or after the deadline: the read before the wait and at most one
	// more (bash's SECONDS counts whole seconds, so the deadline may pass
	// before the first poll). One poll more means it waited past it.
	t.Run("gives up at the deadline", func(t *testing.T) {
		t.Parallel()
		w := vdCluster(t)
		w.set(t, "cluster/unschedulable/"+vdNode, "")
		w.set(t, "cluster/annotation/"+vdNode, "draining")
		w.set(t, "cluster/notready/"+vdNode, "never")
		res := vdUncordon(t, w, "1")
		if res.code != 1 {
			t.Fatalf("exit %d", res.code)
		}
		calls := strings.Join(w.kubectlCalls(t, vdCP1), "\n")
		if n := strings.Count(calls, "get node "+vdNode); n > 2 {
			t.Errorf("%d node reads with a 1 s timeout and 1 s polls, want at most 2", n)
		}
	})
	t.Run("without nixlab's annotation", func(t *testing.T) {
		t.Parallel()
		w := vdCluster(t)
		res := vdUncordon(t, w, "30")
		if res.code != 0 || res.stdout != "skipped\n" {
			t.Fatalf("exit %d stdout %q", res.code, res.stdout)
		}
		if c := w.calls(t); strings.Contains(c, "uncordon") || strings.Contains(c, "annotate") {
			t.Errorf("changed the node:\n%s", c)
		}
	})
	t.Run("node VM absent", func(t *testing.T) {
		t.Parallel()
		w := newVMDrainWorld(t)
		w.vm(t, vdCP1, "running")
		res := vdUncordon(t, w, "30")
		if res.code != 0 || res.stdout != "skipped\n" {
			t.Fatalf("exit %d stdout %q", res.code, res.stdout)
		}
		vdNoGuestCalls(t, w)
	})
	t.Run("no control plane answers", func(t *testing.T) {
		t.Parallel()
		w := vdCluster(t)
		w.set(t, "vms/"+vdCP1+"/agent-down", "")
		w.set(t, "vms/"+vdCP2+"/agent-down", "")
		res := vdUncordon(t, w, "30")
		if res.code != 1 {
			t.Fatalf("exit %d", res.code)
		}
		scriptMustContain(t, "stderr", res.stderr, "cannot uncordon "+vdNode+" safely")
	})
}

// TestScriptVmDrain_OwnVMOnlyWhenOnlyControlPlane: a control plane being
// drained reaches the cluster through another control plane; its own VM is
// used only when it is the only one listed.
func TestScriptVmDrain_OwnVMOnlyWhenOnlyControlPlane(t *testing.T) {
	const cp = "nixlab-cp-1"
	cases := []struct {
		name    string
		cps     []string
		down    string
		code    int
		usedVM  string
		wantErr string
	}{
		{"another control plane first", []string{vdCP1, vdCP2}, "", 0, vdCP2, ""},
		{"the only control plane", []string{vdCP1}, "", 0, vdCP1, ""},
		{"others unreachable: not itself", []string{vdCP1, vdCP2}, vdCP2, 1, "", "VM 9101: QEMU guest agent is not running"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newVMDrainWorld(t)
			w.vm(t, vdCP1, "running").vm(t, vdCP2, "running").node(t, cp)
			if c.down != "" {
				w.set(t, "vms/"+c.down+"/agent-down", "")
			}
			res := w.run(t, append([]string{"drain", cp, vdCP1, "120"}, c.cps...)...)
			if res.code != c.code {
				t.Fatalf("exit %d, want %d", res.code, c.code)
			}
			if c.wantErr != "" {
				scriptMustContain(t, "stderr", res.stderr, c.wantErr)
				if strings.Contains(res.stderr, "VM 9100") {
					t.Errorf("its own VM was tried: %s", res.stderr)
				}
			}
			for _, vm := range []string{vdCP1, vdCP2} {
				used := len(w.kubectlCalls(t, vm)) > 0
				if used != (vm == c.usedVM) {
					t.Errorf("VM %s used: %v, want only %q", vm, used, c.usedVM)
				}
			}
			if c.usedVM != "" && !w.has("cluster/drained/"+cp) {
				t.Errorf("not drained")
			}
		})
	}
}

func TestScriptVmDrain_BadArgs(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{},
		{"drain", vdNode, vdNodeVM, "120"},
		{"reboot", vdNode, vdNodeVM, "120", vdCP1},
		{"drain", "Bad_Name", vdNodeVM, "120", vdCP1},
		{"drain", vdNode, "42", "120", vdCP1},
		{"drain", vdNode, vdNodeVM, "0", vdCP1},
		{"drain", vdNode, vdNodeVM, "10m", vdCP1},
		{"drain", vdNode, vdNodeVM, "120", "9100;reboot"},
		{"uncordon", vdNode, vdNodeVM, "120", vdCP1, "x"},
	} {
		w := vdCluster(t)
		res := w.run(t, args...)
		if res.code != 2 || !strings.Contains(res.stderr, "usage: vm-drain drain|uncordon <node> <nodeVmid> <timeoutSeconds> <cpVmid>...") {
			t.Errorf("args %q: exit %d, stderr %q", args, res.code, res.stderr)
		}
		if c := w.calls(t); c != "" {
			t.Errorf("args %q: qm was called:\n%s", args, c)
		}
	}
}

// TestScriptVmDrain_BadPollSeconds: NIXLAB_POLL_SECONDS (tests only) is
// checked like the arguments.
func TestScriptVmDrain_BadPollSeconds(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0", "soon", "1.5"} {
		w := vdCluster(t)
		res := w.runEnv(t, []string{"NIXLAB_POLL_SECONDS=" + v}, "drain", vdNode, vdNodeVM, "120", vdCP1)
		if res.code != 2 || !strings.Contains(res.stderr, "invalid NIXLAB_POLL_SECONDS '"+v+"'") {
			t.Errorf("NIXLAB_POLL_SECONDS=%s: exit %d, stderr %q", v, res.code, res.stderr)
		}
		if c := w.calls(t); c != "" {
			t.Errorf("NIXLAB_POLL_SECONDS=%s: qm was called:\n%s", v, c)
		}
	}
}

func TestScriptVmDrain_Shellcheck(t *testing.T) {
	scriptShellcheck(t, "vm-drain.sh")
}
