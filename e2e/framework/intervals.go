package framework

import "time"

// The suites' timeouts, delays and polling periods, by what they wait for. A spec names one of these instead
// of writing a duration; durations that a spec tests (a readiness delay it sets, a stage timeout it
// configures, a bound it asserts) stay in the spec, next to the assertion.
const (
	// IntervalEventually and IntervalPolling are Eventually's and Consistently's defaults in the suites
	// (SetDefaultIntervals).
	IntervalEventually = 30 * time.Second
	IntervalPolling    = 50 * time.Millisecond
	// IntervalContainerPolling is the polling period of the container suite, whose fakerun answers over
	// Docker's port forwarding.
	IntervalContainerPolling = 100 * time.Millisecond

	// IntervalPluginGrace is how long the plugin has to stop after SIGTERM before it is killed (it writes
	// its coverage data on the way out).
	IntervalPluginGrace = 5 * time.Second
	// IntervalRead bounds one read of a service or its revisions through the Cloud Run API.
	IntervalRead = 10 * time.Second
	// IntervalDump bounds the failure dumps of a spec.
	IntervalDump = time.Minute

	// IntervalSpecCleanup bounds the deletion of one spec's services (target.Sweep of its prefix).
	IntervalSpecCleanup = 5 * time.Minute
	// IntervalSuiteCleanup bounds the deletion of what a run left behind (target.Sweep of the run prefix).
	IntervalSuiteCleanup = 10 * time.Minute

	// IntervalCall bounds a wait for fakerun to answer a call.
	IntervalCall = 10 * time.Second
	// IntervalPluginRetry is a few times the plugin's first retry delay after a transient Cloud Run error
	// (500ms) and twice its readiness poll interval (1s): a spec that stops the plugin while it waits sees any
	// call it still makes by then.
	IntervalPluginRetry = 2 * time.Second

	// IntervalContainerSuiteSetup bounds building the fakerun image and the plugin.
	IntervalContainerSuiteSetup = 5 * time.Minute
	// IntervalContainerStartup bounds a fakerun container's start, until it logs that it listens.
	IntervalContainerStartup = 30 * time.Second
	// IntervalContainerStop is how long a stopped container has after SIGTERM.
	IntervalContainerStop = 10 * time.Second
	// IntervalContainerCleanup bounds removing a container or the image.
	IntervalContainerCleanup = time.Minute
	// IntervalContainerSpec bounds a container spec: a pipeline against a fake that may be paused.
	IntervalContainerSpec = 3 * time.Minute
	// IntervalContainerShortSpec bounds a container spec that runs one quick sync.
	IntervalContainerShortSpec = 2 * time.Minute
	// IntervalDockerCheck bounds `docker version`, which tells whether a Docker engine answers.
	IntervalDockerCheck = 20 * time.Second
	// IntervalAdmin bounds one call of fakerun's admin API.
	IntervalAdmin = 5 * time.Second

	// IntervalBrowserAction bounds one browser action, and how long PollPage waits for a page to show something.
	IntervalBrowserAction = 5 * time.Second
)

// WaitScale shrinks the WAIT stages of every suite: the examples' 10s become 100ms.
const WaitScale = 0.01
