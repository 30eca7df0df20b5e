package plan

import (
	"strings"
	"testing"
)

// An unknown key does not hide the value checks of the known keys: the
// plan reports both at once, each at its line.
func TestBuildReportsUnknownKeysAndValuesAtOnce(t *testing.T) {
	good := stackYAML("", dhcpNetwork, dhcpGroups)
	for _, tt := range []struct {
		name, stackText string
		want            []string
	}{
		{"top-level typo and a bad value",
			strings.Replace(good, "    vmId: 9000\n", "    vmId: 42\n", 1) + "  nixlab:nodeGroup: {}\n",
			[]string{"nixlab:nodeGroup: is not a nixlab setting; did you mean nixlab:nodeGroups?", "nixlab:template.vmId: 42 is out of range"}},
		{"nested typo and a bad value",
			strings.Replace(good, "    vmId: 9000\n", "    vmId: 42\n    diskSize: 30\n", 1),
			[]string{"nixlab:template.diskSize: unknown setting; did you mean diskSizeGb?", "nixlab:template.vmId: 42 is out of range"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := tempProject(t, map[string]string{"x": tt.stackText})
			_, err := Build(dir, "x")
			if err == nil {
				t.Fatal("Build succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
