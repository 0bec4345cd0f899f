package main

import (
	"encoding/xml"
	"fmt"
	"io"
	"time"
)

// The JUnit XML that CI systems read (Jenkins, GitLab, GitHub Actions reporters): one testsuite of the run,
// one testcase per scenario, a failure (an expectation did not hold) or an error (the scenario could not
// run) with the message and the stage logs.
type junitTestSuites struct {
	XMLName  xml.Name         `xml:"testsuites"`
	Name     string           `xml:"name,attr"`
	Tests    int              `xml:"tests,attr"`
	Failures int              `xml:"failures,attr"`
	Errors   int              `xml:"errors,attr"`
	Time     string           `xml:"time,attr"`
	Suites   []junitTestSuite `xml:"testsuite"`
}

type junitTestSuite struct {
	Name      string          `xml:"name,attr"`
	Tests     int             `xml:"tests,attr"`
	Failures  int             `xml:"failures,attr"`
	Errors    int             `xml:"errors,attr"`
	Skipped   int             `xml:"skipped,attr"`
	Time      string          `xml:"time,attr"`
	Timestamp string          `xml:"timestamp,attr"`
	Cases     []junitTestCase `xml:"testcase"`
}

type junitTestCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// junitText is an element's text kept readable (CDATA: stage logs have newlines, quotes and angle brackets).
type junitText struct {
	Text string `xml:",cdata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// writeJUnit writes the outcomes as JUnit XML.
func writeJUnit(w io.Writer, started time.Time, took time.Duration, outcomes []outcome) error {
	suite := junitTestSuite{Name: "pipeline scenarios", Time: seconds(took), Timestamp: started.UTC().Format("2006-01-02T15:04:05")}
	for _, o := range outcomes {
		c := junitTestCase{Name: o.scenario.Name, Classname: o.scenario.file, Time: seconds(o.took), SystemOut: &junitText{o.log}}
		switch {
		case o.err != nil:
			c.Error = &junitProblem{Message: o.err.Error(), Type: "error", Text: o.err.Error() + "\n\n" + o.report}
			suite.Errors++
		case len(o.failures) > 0:
			c.Failure = &junitProblem{Message: o.failures[0], Type: "expectation", Text: o.failureText()}
			suite.Failures++
		}
		suite.Tests++
		suite.Cases = append(suite.Cases, c)
	}
	doc := junitTestSuites{Name: suite.Name, Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Time: suite.Time, Suites: []junitTestSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
