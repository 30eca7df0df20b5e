// Command nixlab is the Pulumi program: `pulumi up` runs stack.Program.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nixlab/nixlab/stack"
)

func main() {
	pulumi.Run(stack.Program)
}
