package plan

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The plan's engine is in-process: a gRPC server on a unix socket in a
// private temporary directory, serving the resource monitor (monitor) and
// the engine's log (engineLog). It is not pulumi.WithMocks because the
// SDK's mock monitor cannot take a secret input whose value is unknown
// (it drops the unknown and then fails with "malformed RPC secret"), and a
// preview in which nothing exists yet has such inputs: the readiness
// checks' SSH connection holds the generated private key.

// engineLog records what the program logs as warnings or errors.
type engineLog struct {
	pulumirpc.UnimplementedEngineServer

	mu       sync.Mutex
	root     string
	messages []string
}

// Log keeps warnings and errors; `pulumi up` prints them.
func (e *engineLog) Log(_ context.Context, req *pulumirpc.LogRequest) (*emptypb.Empty, error) {
	switch req.GetSeverity() {
	case pulumirpc.LogSeverity_WARNING, pulumirpc.LogSeverity_ERROR:
		e.mu.Lock()
		e.messages = append(e.messages, req.GetMessage())
		e.mu.Unlock()
	}
	return &emptypb.Empty{}, nil
}

// GetRootResource returns the stack resource's URN.
func (e *engineLog) GetRootResource(context.Context, *pulumirpc.GetRootResourceRequest) (*pulumirpc.GetRootResourceResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return &pulumirpc.GetRootResourceResponse{Urn: e.root}, nil
}

// SetRootResource stores the stack resource's URN.
func (e *engineLog) SetRootResource(_ context.Context, req *pulumirpc.SetRootResourceRequest) (*pulumirpc.SetRootResourceResponse, error) {
	e.mu.Lock()
	e.root = req.GetUrn()
	e.mu.Unlock()
	return &pulumirpc.SetRootResourceResponse{}, nil
}

// RequirePulumiVersion accepts every version requirement.
func (e *engineLog) RequirePulumiVersion(context.Context, *pulumirpc.RequirePulumiVersionRequest) (*pulumirpc.RequirePulumiVersionResponse, error) {
	return &pulumirpc.RequirePulumiVersionResponse{}, nil
}

// warnings returns the logged messages in order, without duplicates.
func (e *engineLog) warnings() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return sortedUnique(e.messages)
}

// engine is a running in-process engine.
type engine struct {
	addr   string
	server *grpc.Server
	dir    string
}

// startEngine serves mon and log on a fresh unix socket.
func startEngine(mon *monitor, log *engineLog) (*engine, error) {
	dir, err := os.MkdirTemp("", "nixlab-plan-")
	if err != nil {
		return nil, fmt.Errorf("creating the engine's socket directory: %w", err)
	}
	sock := filepath.Join(dir, "engine.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("listening on %s: %w", sock, err)
	}
	s := grpc.NewServer()
	pulumirpc.RegisterResourceMonitorServer(s, mon)
	pulumirpc.RegisterEngineServer(s, log)
	go func() { _ = s.Serve(lis) }()
	return &engine{addr: "unix://" + sock, server: s, dir: dir}, nil
}

// stop shuts the server down and removes the socket directory.
func (e *engine) stop() {
	e.server.Stop()
	_ = os.RemoveAll(e.dir)
}
