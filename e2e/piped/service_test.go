package piped

import (
	"slices"
	"strings"
	"testing"

	service "github.com/pipe-cd/pipecd/pkg/plugin/pipedservice"
)

// TestMetadataRPCsAreThePluginServiceMetadataMethods keeps lockMetadata's list in step with the PluginService:
// every method it names exists, and every metadata method is in it.
func TestMetadataRPCsAreThePluginServiceMetadataMethods(t *testing.T) {
	t.Parallel()
	var methods []string
	for _, m := range service.PluginService_ServiceDesc.Methods {
		methods = append(methods, m.MethodName)
		if strings.Contains(m.MethodName, "Metadata") && !slices.Contains(metadataRPCs, m.MethodName) {
			t.Errorf("%s is a metadata RPC that lockMetadata does not lock", m.MethodName)
		}
	}
	for _, m := range metadataRPCs {
		if !slices.Contains(methods, m) {
			t.Errorf("%s is not a PluginService method", m)
		}
	}
}
