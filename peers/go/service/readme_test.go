package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README starts with the hello example; it must be the very file the example test builds and runs.
func TestTheReadmeShowsTheHelloExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "hello", "go", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "```go\n")
	if start < 0 || !strings.HasPrefix(text[start+len("```go\n"):], string(example)+"```") {
		t.Fatal("the first Go block of peers/go/README.md is not examples/hello/go/main.go: copy the example into it")
	}
}
