package components

import (
	"slices"
	"testing"
)

func TestRebootsVM(t *testing.T) {
	for _, c := range []struct {
		path string
		want bool
	}{
		{"cpu.cores", true},
		{"memory.dedicated", true},
		{"networkDevices[0].bridge", true},
		{"networkDevices", true},
		{"initialization.ipConfigs[0].ipv4.address", true},
		{"initialization.dns", true},
		{"disks[0].aio", true},
		{"disks[0].datastoreId", true},
		{"operatingSystem.type", true},
		// A disk grows online; metadata changes in place.
		{"disks[0].size", false},
		{"disks[0].speed", false},
		{"tags", false},
		{"description", false},
		{"onBoot", false},
		{"cdrom.fileId", false},
		{"name", false},
		{"cpuX", false},
		{"started", false},
	} {
		if got := RebootsVM(c.path); got != c.want {
			t.Errorf("RebootsVM(%q) = %v, want %v", c.path, got, c.want)
		}
	}
}

func TestRebootFieldsIsACopy(t *testing.T) {
	a := RebootFields()
	if !slices.IsSorted(a) || !slices.Contains(a, "cpu") || !slices.Contains(a, "initialization") {
		t.Fatalf("RebootFields() = %v", a)
	}
	a[0] = "x"
	if RebootFields()[0] == "x" {
		t.Error("RebootFields returns its internal slice")
	}
}
