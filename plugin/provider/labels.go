package provider

// Labels the plugin puts on the services and revision templates it applies, so that it (and people) can
// tell what PipeCD manages. Keys and values follow the Cloud Run label rules.
const (
	// LabelManagedBy marks resources applied by PipeCD; its value is ManagedByPiped.
	LabelManagedBy = "pipecd-dev-managed-by"
	// LabelPiped is the id of the piped that applied the resource.
	LabelPiped = "pipecd-dev-piped"
	// LabelApplication is the id of the PipeCD application.
	LabelApplication = "pipecd-dev-application"
	// LabelCommitHash is the commit that was deployed (service only: on a revision template it would create a
	// new revision for every commit).
	LabelCommitHash = "pipecd-dev-commit-hash"

	// ManagedByPiped is the value of LabelManagedBy.
	ManagedByPiped = "piped"
)
