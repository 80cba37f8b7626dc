// Command lambroll_render renders a lambroll function.json the way lambroll v1 does, so that tests can
// check what `lambroll deploy` and `lambroll diff` would send to Lambda without AWS or lambroll.
//
// lambroll reads the file through kayac/go-config (v0.6.0): Go's text/template with go-config's
// template functions, then decodes the result with encoding/json into lambda.CreateFunctionInput.
// This program does the same with the three functions function.json may use (env, must_env,
// json_escape), so a template naming any other function fails at parse time, as an unknown one
// would in lambroll. The decode is stricter than lambroll's on one point: an unknown field is an
// error here (lambroll only warns and drops it), so a misspelt key cannot pass unnoticed.
//
//	lambroll_render FILE   prints the decoded configuration as JSON; exit 1 with the reason otherwise
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"text/template"
)

// funcs behaves exactly as go-config's DefaultFuncMap.
var funcs = template.FuncMap{
	// env returns the value of the first of its arguments that names a non-empty environment
	// variable; when none does, the last argument itself (the default, so a lone name that is not
	// set comes back as the name).
	"env": func(keys ...string) string {
		value := ""
		for _, key := range keys {
			value = os.Getenv(key)
			if value != "" {
				return value
			}
			value = key
		}
		return value
	},
	// must_env returns the variable's value, empty included, and stops the rendering when the
	// variable is not set at all.
	"must_env": func(key string) string {
		if value, ok := os.LookupEnv(key); ok {
			return value
		}
		panic(fmt.Sprintf("environment variable %s is not defined", key))
	},
	// json_escape returns the string as encoding/json quotes it, without the surrounding quotes.
	"json_escape": func(s string) string {
		quoted, _ := json.Marshal(s)
		return string(quoted[1 : len(quoted)-1])
	},
}

// function holds the fields of lambda.CreateFunctionInput that our function.json files set, with
// the SDK's types (numbers are int32: a quoted number does not decode, as in lambroll).
type function struct {
	Architectures []string     `json:"Architectures"`
	Description   *string      `json:"Description"`
	Environment   *environment `json:"Environment"`
	FunctionName  *string      `json:"FunctionName"`
	Handler       *string      `json:"Handler"`
	MemorySize    *int32       `json:"MemorySize"`
	Role          *string      `json:"Role"`
	Runtime       *string      `json:"Runtime"`
	Timeout       *int32       `json:"Timeout"`
}

type environment struct {
	Variables map[string]string `json:"Variables"`
}

func render(path string) ([]byte, error) {
	source, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New("conf").Funcs(funcs).Parse(string(source))
	if err != nil {
		return nil, fmt.Errorf("config parse by template failed: %w", err)
	}
	var rendered bytes.Buffer
	if err := tmpl.Execute(&rendered, nil); err != nil {
		return nil, fmt.Errorf("template attach failed: %w", err)
	}
	decoder := json.NewDecoder(bytes.NewReader(rendered.Bytes()))
	decoder.DisallowUnknownFields()
	var fn function
	if err := decoder.Decode(&fn); err != nil {
		return nil, fmt.Errorf("failed to load %s: %w\n--- rendered:\n%s", path, err, rendered.String())
	}
	return json.MarshalIndent(fn, "", "  ")
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: lambroll_render FILE")
		os.Exit(2)
	}
	out, err := render(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}
