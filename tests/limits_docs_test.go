package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixlab/nixlab/internal/testutil"
	"github.com/nixlab/nixlab/stack"
)

// readmeRow returns the configuration reference row of a setting.
func readmeRow(t *testing.T, readme, key string) string {
	t.Helper()
	_, section, ok := strings.Cut(readme, "## Configuration reference\n")
	if !ok {
		t.Fatal("README.md has no configuration reference")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| `"+key+"` |") {
			return line
		}
	}
	t.Errorf("README.md has no configuration reference row for %s", key)
	return ""
}

// The README states the limits stack validation enforces, taken from the
// one place they are defined (stack's exported limits and the rule set
// shared with settings.nix), so the documentation cannot drift from them.
func TestREADMEStatesTheLimits(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	rules := stack.SharedRules()
	want := map[string][]string{
		"template.vmId":                  {fmt.Sprintf("%d–%d", stack.MinVMID, stack.MaxVMID)},
		"template.diskSizeGb":            {fmt.Sprintf("%d–%d", stack.MinDiskSizeGB, stack.MaxDiskSizeGB)},
		"template.swapSizeGb":            {fmt.Sprintf("0–%d", stack.MaxSwapSizeGB), fmt.Sprintf("%d GB for `/`", stack.MinRootSizeGB)},
		"template.installTimeoutMinutes": {fmt.Sprintf("%d–%d", stack.MinInstallTimeout, stack.MaxInstallTimeout)},
		"template.memoryMb":              {fmt.Sprint(stack.MinTemplateMemory)},
		"nodeGroups.<name>.count":        {fmt.Sprintf("0–%d", stack.MaxNodes), fmt.Sprintf("%d nodes in all", stack.MaxNodes), fmt.Sprintf("%d groups", stack.MaxNodeGroups)},
		"nodeGroups.<name>.vmIdStart":    {fmt.Sprintf("%d or more", stack.MinVMID)},
		"nodeGroups.<name>.diskSizeGb":   {fmt.Sprint(stack.MaxDiskSizeGB)},
		"kubernetes.podCidr":             {fmt.Sprintf("/%d to /%d", stack.MinPodCIDRBits, stack.NodeCIDRMaskSize)},
		"kubernetes.serviceCidr":         {fmt.Sprintf("/%d to /%d", stack.MinServiceCIDRBits, stack.MaxServiceCIDRBits)},
		"kubernetes.version":             {fmt.Sprintf("1.%d or newer", stack.MinKubernetesMinor)},
		"updates.maxUnavailable":         {fmt.Sprintf("1–%d", stack.MaxUnavailableBound), "one at a time"},
		"updates.drainTimeoutMinutes":    {fmt.Sprintf("%d–%d minutes", stack.MinRollTimeoutMinutes, stack.MaxRollTimeoutMinutes)},
		"updates.healthTimeoutMinutes":   {fmt.Sprintf("%d–%d minutes", stack.MinRollTimeoutMinutes, stack.MaxRollTimeoutMinutes)},
		"updates.hold":                   {"<clusterName>-<group>-<i>", "each once"},
		"network.cidr":                   {fmt.Sprintf("/%d or shorter", stack.MaxStaticPrefixBits)},
		"network.gateway":                {"network or broadcast address"},
		"nfs.mountPoint":                 rules.SystemPaths,
		"adminUser":                      {"nixos/lib/rules.json"},
		"clusterName":                    {fmt.Sprintf("at most %d characters", stack.MaxClusterNameLength)},
	}
	for key, parts := range want {
		row := readmeRow(t, readme, key)
		for _, p := range parts {
			if !strings.Contains(row, p) {
				t.Errorf("README row %s does not state %q:\n%s", key, p, row)
			}
		}
	}
}
