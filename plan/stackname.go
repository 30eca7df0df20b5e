package plan

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

// CheckStackName checks that name is a bare Pulumi stack name that is safe
// to use in a file name: the stack's config is Pulumi.<name>.yaml in the
// project directory, so a name holding a path separator or ".." could
// name a file elsewhere. Fully qualified names (org/project/stack) are
// refused too; nixlab takes the bare name, as the stack file does. The
// remaining rule is Pulumi's own (tokens.ParseStackName: letters, digits,
// '-', '_' and '.', at most 100 characters). The error starts with the
// quoted name, so a caller can prefix the flag or key that held it.
func CheckStackName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("%q: the stack name must not be empty; pass a stack such as lab", name)
	case strings.ContainsAny(name, `/\`):
		return fmt.Errorf("%q: the stack name must not contain a path separator; pass the bare stack name (its config is Pulumi.<name>.yaml in the project directory; an organization comes from `pulumi org set-default`)", name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("%q: the stack name must not contain \"..\"; pass the bare stack name, e.g. lab", name)
	}
	if _, err := tokens.ParseStackName(name); err != nil {
		return fmt.Errorf("%q: %w", name, err)
	}
	return nil
}
