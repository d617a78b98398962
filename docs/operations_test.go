package docs_test

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/testkit"
)

// k8sObject is what the test reads of the Kubernetes objects in operations.md.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		AccessModes []string `yaml:"accessModes"` // PersistentVolumeClaim
		Replicas    *int     `yaml:"replicas"`
		Selector    struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				TerminationGracePeriodSeconds int            `yaml:"terminationGracePeriodSeconds"`
				Containers                    []k8sContainer `yaml:"containers"`
				Volumes                       []struct {
					Name                  string `yaml:"name"`
					PersistentVolumeClaim *struct {
						ClaimName string `yaml:"claimName"`
					} `yaml:"persistentVolumeClaim"`
					Projected *struct {
						Sources []struct {
							ConfigMap *struct {
								Name string `yaml:"name"`
							} `yaml:"configMap"`
							Secret *struct {
								Name  string `yaml:"name"`
								Items []struct {
									Key  string `yaml:"key"`
									Path string `yaml:"path"`
								} `yaml:"items"`
							} `yaml:"secret"`
						} `yaml:"sources"`
					} `yaml:"projected"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sContainer struct {
	Name string   `yaml:"name"`
	Args []string `yaml:"args"`
	Env  []struct {
		Name      string `yaml:"name"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	VolumeMounts   []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// fencedAfter is the fenced block that follows marker in a Markdown page.
func fencedAfter(t *testing.T, page, marker string) string {
	t.Helper()
	i := strings.Index(page, marker)
	if i < 0 {
		t.Fatalf("no %s", marker)
	}
	rest := page[i+len(marker):]
	start := strings.Index(rest, "```")
	body := rest[start:]
	body = body[strings.Index(body, "\n")+1:]
	return body[:strings.Index(body, "```")]
}

// TestOperationsKubernetes checks operations.md's Deployment of two watchers over one
// PostgreSQL ledger: two replicas, the share mounted in both (a claim several nodes can
// mount) at the path the recipe configuration's source names, OCTANE_IMPORT_STATE from a
// Secret that holds a postgres:// URL, the configuration and the client secret where the
// recipe configuration reads them, probes on the --health-listen port, time to finish a
// batch on SIGTERM. Then it runs the container's command line on a machine laid out as the
// recipes' (the configuration, the share) with the URL of a real PostgreSQL in
// OCTANE_IMPORT_STATE: it imports the share into the database, not into a ledger file.
func TestOperationsKubernetes(t *testing.T) {
	data, err := os.ReadFile("operations.md")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(fencedAfter(t, string(data), "<!-- operations:kubernetes -->")))
	objects := map[string]k8sObject{} // by kind/name
	var deployment *k8sObject
	for {
		var o k8sObject
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("the Kubernetes example is not YAML: %v", err)
		}
		objects[o.Kind+"/"+o.Metadata.Name] = o
		if o.Kind == "Deployment" {
			deployment = &o
		}
	}
	if deployment == nil {
		t.Fatal("no Deployment in the Kubernetes example")
	}
	spec := deployment.Spec
	if spec.Replicas == nil || *spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", spec.Replicas)
	}
	for k, v := range spec.Selector.MatchLabels {
		if spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the selector's %s=%s is not a label of the pods", k, v)
		}
	}
	if g := spec.Template.Spec.TerminationGracePeriodSeconds; g < 120 {
		t.Errorf("terminationGracePeriodSeconds %d: give a batch in flight 2 minutes, as the systemd unit does", g)
	}
	if len(spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want one", len(spec.Template.Spec.Containers))
	}
	c := spec.Template.Spec.Containers[0]

	// The recipe configuration: where its source is, where its client secret is read from.
	var recipe struct {
		Sources []struct {
			Dir string `yaml:"dir"`
		} `yaml:"sources"`
		Targets []struct {
			ClientSecret string `yaml:"client_secret"`
		} `yaml:"targets"`
	}
	if err := yaml.Unmarshal([]byte(readRecipe(t, "octane-import.yaml")), &recipe); err != nil {
		t.Fatal(err)
	}
	share := recipe.Sources[0].Dir
	secretFile := strings.TrimSuffix(strings.TrimPrefix(recipe.Targets[0].ClientSecret, "${file:"), "}")

	// The share: a claim that several nodes can mount, mounted where the source is.
	mounts := map[string]string{} // volume → mount path
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
		if !m.ReadOnly {
			t.Errorf("volume %s is mounted read-write: the watcher only reads", m.Name)
		}
	}
	var shared, configured bool
	for _, v := range spec.Template.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			pvc, ok := objects["PersistentVolumeClaim/"+v.PersistentVolumeClaim.ClaimName]
			if !ok {
				t.Errorf("volume %s: no PersistentVolumeClaim %s in the example", v.Name, v.PersistentVolumeClaim.ClaimName)
				continue
			}
			if !slices.Contains(pvc.Spec.AccessModes, "ReadOnlyMany") && !slices.Contains(pvc.Spec.AccessModes, "ReadWriteMany") {
				t.Errorf("claim %s: access modes %v: the replicas, on different nodes, cannot both mount it", pvc.Metadata.Name, pvc.Spec.AccessModes)
			}
			if mounts[v.Name] != share {
				t.Errorf("the share (volume %s) is mounted at %q, want %s: the recipe configuration's source, the same path in every replica", v.Name, mounts[v.Name], share)
			}
			shared = true
		case v.Projected != nil:
			dir := mounts[v.Name]
			var cm, secret bool
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					cm = true
				}
				if s.Secret != nil {
					for _, it := range s.Secret.Items {
						if path.Join(dir, it.Path) == secretFile {
							secret = true
							if _, ok := objects["Secret/"+s.Secret.Name].StringData[it.Key]; !ok {
								t.Errorf("no key %s in Secret %s", it.Key, s.Secret.Name)
							}
						}
					}
				}
			}
			if !cm || !secret {
				t.Errorf("volume %s at %s: a ConfigMap %t and the client secret at %s %t", v.Name, dir, cm, secretFile, secret)
			}
			configured = true
		}
	}
	if !shared || !configured {
		t.Errorf("the pods mount the share %t and the configuration %t", shared, configured)
	}

	// The ledger: OCTANE_IMPORT_STATE from a Secret's postgres:// URL.
	fromSecret := false
	for _, e := range c.Env {
		if e.Name != "OCTANE_IMPORT_STATE" {
			continue
		}
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Fatal("OCTANE_IMPORT_STATE is not taken from a Secret")
		}
		ref := e.ValueFrom.SecretKeyRef
		secret, ok := objects["Secret/"+ref.Name]
		if !ok || !ledger.IsURL(secret.StringData[ref.Key]) {
			t.Errorf("OCTANE_IMPORT_STATE: Secret %s key %s is not a postgres:// URL (%v)", ref.Name, ref.Key, ok)
		}
		fromSecret = true
	}
	if !fromSecret {
		t.Error("the container has no OCTANE_IMPORT_STATE: each replica would keep a ledger of its own")
	}

	// The command line: a watch with this configuration, and probes on its health port.
	if len(c.Args) == 0 || c.Args[0] != "watch" {
		t.Fatalf("args %v, want watch ...", c.Args)
	}
	if r := runBin(t, t.TempDir(), nil, append(slices.Clone(c.Args), "--help")...); r.code != 0 {
		t.Errorf("octane-import %s: exit %d, a flag it does not take?\n%s", strings.Join(c.Args, " "), r.code, r.stderr)
	}
	i := slices.Index(c.Args, "--health-listen")
	if i < 0 || i+1 == len(c.Args) {
		t.Fatal("no --health-listen: the probes have nothing to ask")
	}
	_, port, _ := strings.Cut(c.Args[i+1], ":")
	ports := map[string]string{}
	for _, p := range c.Ports {
		ports[p.Name] = strconv.Itoa(p.ContainerPort)
	}
	for name, probe := range map[string]*k8sProbe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if probe == nil || probe.HTTPGet.Path != "/healthz" || ports[probe.HTTPGet.Port] != port {
			t.Errorf("%s probe %+v: want /healthz on the --health-listen port %s", name, probe, port)
		}
	}
	if j := slices.Index(c.Args, "--config"); j < 0 || path.Dir(c.Args[j+1]) != path.Dir(secretFile) {
		t.Errorf("--config is not in the configuration volume (%s)", path.Dir(secretFile))
	}

	// One replica's command line, run: the share goes into the PostgreSQL ledger.
	url := testkit.Postgres(t)
	m := newMachine(t)
	health := testkit.FreeAddr(t)
	argv := []string{m.bin}
	for _, a := range c.Args {
		argv = append(argv, strings.Replace(m.subst(a), "0.0.0.0:9090", health, 1))
	}
	runWatch(t, "/", argv, health, map[string]string{"OCTANE_IMPORT_STATE": url})
	v, err := ledger.OpenView(url)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	sum, err := v.Summarize()
	if err != nil || sum.Files[ledger.Accepted] < 7 {
		t.Errorf("the PostgreSQL ledger holds %+v (%v), want the 7 reports accepted", sum, err)
	}
	if entries, _ := os.ReadDir(filepath.Join(m.root, "var", "lib", "octane-import")); len(entries) != 0 {
		t.Errorf("the replica wrote a ledger file (settings.state) besides the database: %v", entries)
	}
}

// The systemd drop-in of operations.md gives the unit its URL from a file root reads.
func TestOperationsSystemdDropIn(t *testing.T) {
	data, err := os.ReadFile("operations.md")
	if err != nil {
		t.Fatal(err)
	}
	dropIn := fencedAfter(t, string(data), "### Two hosts with the systemd unit")
	u := parseUnit(t, dropIn)
	env := u["Service"]["EnvironmentFile"]
	if len(env) != 1 || !strings.HasPrefix(env[0], "/etc/octane-import/") {
		t.Fatalf("[Service] EnvironmentFile = %v, want one file in /etc/octane-import", env)
	}
	if !strings.Contains(dropIn, "OCTANE_IMPORT_STATE=postgres://") || !strings.Contains(dropIn, "install -m 0600") {
		t.Errorf("the drop-in does not say what the file holds, and that only root reads it:\n%s", dropIn)
	}
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the drop-in is not verified by systemd")
	}
	// The unit with its drop-in, as systemd reads them (the folder on the unit path, so that
	// the drop-in is read too).
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "octane-import-watch.service"), readRecipe(t, "octane-import-watch.service"))
	testkit.WriteFile(t, filepath.Join(dir, "octane-import-watch.service.d", "ledger.conf"), dropIn)
	testkit.WriteFile(t, filepath.Join(dir, "octane-import-watch.service.d", "check.conf"), "[Service]\nNoSuchKey=1\n")
	cmd := exec.Command(sa, "verify", "--man=no", filepath.Join(dir, "octane-import-watch.service"))
	cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "check.conf") {
		t.Skipf("systemd-analyze verify does not read drop-ins here:\n%s", out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "ledger.conf") {
			t.Errorf("systemd-analyze verify: %s", l)
		}
	}
}
