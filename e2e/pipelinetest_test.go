package e2e

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

// The example's scenarios: a good and a bad one of each kind of application.
var exampleScenarios = []string{
	"checkout-good-canary.yaml", "checkout-bad-canary.yaml", "nightly-report-good.yaml", "nightly-report-failing-tasks.yaml",
}

// junitReport is the JUnit XML that CI systems read, as far as the checks below need it.
type junitReport struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    string   `xml:"tests,attr"`
	Failures string   `xml:"failures,attr"`
	Errors   string   `xml:"errors,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    string `xml:"tests,attr"`
		Failures string `xml:"failures,attr"`
		Errors   string `xml:"errors,attr"`
		Time     string `xml:"time,attr"`
		Cases    []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error     *struct{} `xml:"error"`
			SystemOut string    `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// buildPipelinetest builds the scenario CLI for the spec.
func buildPipelinetest() string {
	GinkgoHelper()
	bin, err := gexec.Build("github.com/pipecd-cloudrun/cloudrun/e2e/cmd/pipelinetest")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(gexec.CleanupBuildArtifacts)
	return bin
}

var _ = Describe("The pipeline-testing kit's scenario CLI [pipelinetest]", Label("pipelinetest"), func() {
	It("runs the example's scenarios in parallel and reports them, and a failed expectation, as JUnit XML", func(ctx SpecContext) {
		bin := buildPipelinetest()
		var args []string
		for _, s := range exampleScenarios {
			args = append(args, filepath.Join("..", "examples", "pipeline-testing", "scenarios", s))
		}
		args = append(args, filepath.Join("testdata", "pipelinetest", "wrong-expectation.yaml"))
		report := filepath.Join(GinkgoT().TempDir(), "report.xml")

		By("running five scenarios at once, one of which expects the wrong outcome")
		cmd := exec.CommandContext(ctx, bin, append([]string{"-plugin", pluginBinary, "-parallel", "5", "-junit", report}, args...)...)
		out, err := cmd.CombinedOutput()
		GinkgoWriter.Printf("%s\n", out)
		var exit *exec.ExitError
		Expect(err).To(BeAssignableToTypeOf(exit), "the CLI fails when a scenario fails:\n%s", out)
		Expect(cmd.ProcessState.ExitCode()).To(Equal(1))
		Expect(string(out)).To(ContainSubstring("4 passed, 1 failed"))
		Expect(string(out)).To(ContainSubstring("[checkout - a canary answering 20% 503 is rolled back by the analysis] ▶ CLOUDRUN_ROLLBACK (rollback)"))

		By("reading the JUnit report as a CI system does")
		raw, err := os.ReadFile(report)
		Expect(err).NotTo(HaveOccurred())
		var r junitReport
		Expect(xml.Unmarshal(raw, &r)).To(Succeed())
		Expect([]string{r.Tests, r.Failures, r.Errors}).To(Equal([]string{"5", "1", "0"}))
		Expect(r.Suites).To(HaveLen(1))
		suite := r.Suites[0]
		Expect([]string{suite.Tests, suite.Failures, suite.Errors}).To(Equal([]string{"5", "1", "0"}))
		Expect(strconv.ParseFloat(suite.Time, 64)).To(BeNumerically(">", 0))
		failed := 0
		for _, c := range suite.Cases {
			Expect(c.Name).NotTo(BeEmpty())
			Expect(c.Classname).To(HaveSuffix(".yaml"))
			Expect(strconv.ParseFloat(c.Time, 64)).To(BeNumerically(">", 0))
			Expect(c.Error).To(BeNil(), c.Name)
			Expect(c.SystemOut).To(ContainSubstring("when: deploying the change"), c.Name)
			if c.Failure == nil {
				Expect(c.SystemOut).To(ContainSubstring("PASSED"), c.Name)
				continue
			}
			failed++
			Expect(c.Name).To(Equal("nightly-report - a failing release wrongly expected to succeed"))
			Expect(c.Failure.Message).To(Equal("expected the deployment of nightly-report to end SUCCESS: it ended FAILURE: Failed while executing stage CLOUDRUN_JOB_RUN"))
			Expect(c.Failure.Text).To(ContainSubstring("stage CLOUDRUN_JOB_RUN: FAILURE"), "the failure carries the stage logs")
			Expect(c.Failure.Text).To(MatchRegexp(`(?m)^    \| .*exit code 3`), "the failure carries the stage logs")
		}
		Expect(failed).To(Equal(1))
		Expect(suite.Cases).To(HaveLen(5))
	})

	It("refuses a malformed scenario file with its name, line and field, and deploys nothing", func(ctx SpecContext) {
		bin := buildPipelinetest()
		report := filepath.Join(GinkgoT().TempDir(), "report.xml")
		cmd := exec.CommandContext(ctx, bin, "-plugin", pluginBinary, "-junit", report,
			filepath.Join("..", "examples", "pipeline-testing", "scenarios", "checkout-good-canary.yaml"),
			filepath.Join("testdata", "pipelinetest", "malformed.yaml"))
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		Expect(cmd.Run()).To(HaveOccurred())
		Expect(cmd.ProcessState.ExitCode()).To(Equal(2))
		Expect(stderr.String()).To(Equal("pipelinetest: bad scenario files, nothing was deployed:\n" +
			"testdata/pipelinetest/malformed.yaml:10: field rolledback not found in then (allowed: status, failedStage, stages, rolledBack, traffic, analysis)\n"))
		Expect(stdout.String()).To(BeEmpty(), "no scenario ran")
		Expect(report).NotTo(BeAnExistingFile(), "no report: nothing ran")
	})
})
