// Command eksctl-check runs the part of `eksctl create cluster -f FILE` that
// happens before eksctl first calls AWS: strict loading of the ClusterConfig,
// the create-cluster file checks, defaulting and validation. It uses eksctl's
// own code (github.com/weaveworks/eksctl), in eksctl's order, so the tests can
// compare pangeo-render's cluster.yaml and its own rules with eksctl's verdict.
//
// Usage: eksctl-check FILE...
//
// For each FILE it prints one JSON line {"file":..., "ok":bool, "error":"..."}
// ("error" is empty when ok). Like eksctl, it stops at the first error in a file.
// The exit status is 0 only if every file is ok (1 otherwise, 2 on bad usage).
// eksctl's log output (warnings, notes) goes to stderr.
//
// Not checked, because eksctl asks AWS for it: whether the Kubernetes version is
// offered (only ""/"auto" are resolved, to eksctl's default version), zones and
// instance types of the region, AMIs, existing VPCs and subnets.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/kris-nova/logger"
	"github.com/spf13/cobra"

	"github.com/weaveworks/eksctl/pkg/accessentry"
	api "github.com/weaveworks/eksctl/pkg/apis/eksctl.io/v1alpha5"
	"github.com/weaveworks/eksctl/pkg/ctl/cmdutils"
	"github.com/weaveworks/eksctl/pkg/ctl/cmdutils/filter"
)

type result struct {
	File  string `json:"file"`
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: eksctl-check CLUSTER_YAML...")
		os.Exit(2)
	}
	// eksctl logs to stdout by default; keep stdout for the JSON lines.
	logger.Writer = os.Stderr

	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false) // keep eksctl's messages readable ("<", ">" as they are)
	allOK := true
	for _, file := range os.Args[1:] {
		r := result{File: file, OK: true}
		if err := check(file); err != nil {
			r.OK, r.Error = false, err.Error()
			allOK = false
		}
		if err := out.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, "eksctl-check:", err)
			os.Exit(2)
		}
	}
	if !allOK {
		os.Exit(1)
	}
}

// check runs eksctl's offline steps of `create cluster -f file`, in its order.
func check(file string) (err error) {
	// A panic inside eksctl on odd input is a finding too, not a crash of the run.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("eksctl panicked: %v", p)
		}
	}()

	// 1. The command as cmdutils.AddResourceCmd sets it up (validation on), with
	//    no flags given besides -f: pkg/ctl/create/cluster.go, RunE.
	cmd := &cmdutils.Cmd{
		CobraCommand:      &cobra.Command{},
		ProviderConfig:    api.ProviderConfig{WaitTimeout: api.DefaultWaitTimeout},
		Plan:              true,
		Validate:          true,
		ClusterConfigFile: file,
		ClusterConfig:     api.NewClusterConfig(),
	}
	params := &cmdutils.CreateClusterCmdParams{}
	ngFilter := filter.NewNodeGroupFilter()
	// Strict decoding (unknown fields are errors) and the create-cluster file checks.
	if err := cmdutils.NewCreateClusterLoader(cmd, ngFilter, api.NewNodeGroup(), params).Load(); err != nil {
		return err
	}
	cfg := cmd.ClusterConfig

	// 2. Cmd.NewCtl, without its AWS calls: the version is resolved as eksctl does
	//    for "" and "auto" (other values would be checked against AWS), then
	//    defaults and validation, then the region.
	switch cfg.Metadata.Version {
	case "", "auto":
		cfg.Metadata.Version = api.DefaultVersion
	}
	if err := cmd.InitializeClusterConfig(); err != nil {
		return err
	}
	if !slices.Contains(api.SupportedRegions(), cfg.Metadata.Region) {
		return cmdutils.ErrUnsupportedRegion(&cmd.ProviderConfig)
	}

	// 3. The checks at the top of doCreateCluster, before its first AWS call.
	if name := cfg.Metadata.Name; name != "" && api.IsInvalidNameArg(name) {
		return api.ErrInvalidName(name)
	}
	if err := cfg.ValidatePrivateCluster(); err != nil {
		return err
	}
	if err := cfg.ValidateClusterEndpointConfig(); err != nil {
		return err
	}
	return accessentry.ValidateAPIServerAccess(cfg)
}
