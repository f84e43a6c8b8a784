{{/* Chart name, overridable. */}}
{{- define "vaultsync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects: the release name, suffixed by the chart name unless it already contains it. */}}
{{- define "vaultsync.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels that select the operator's pods. */}}
{{- define "vaultsync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vaultsync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "vaultsync.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "vaultsync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: vaultsync
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The operator's ServiceAccount. */}}
{{- define "vaultsync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vaultsync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is pinned. */}}
{{- define "vaultsync.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Flags of `vaultsync run`, one list item per line. */}}
{{- define "vaultsync.args" -}}
- run
- --log-format={{ .Values.logFormat }}
- --metrics-addr={{ if .Values.hostNetwork }}$(POD_IP){{ else }}0.0.0.0{{ end }}:{{ .Values.metrics.port }}
- --vault-requests-per-second={{ .Values.vaultRequestsPerSecond }}
- --concurrency={{ .Values.concurrency }}
- --namespace-concurrency={{ .Values.namespaceConcurrency }}
- --reconcile-timeout={{ .Values.reconcileTimeout }}
- --content-hash-key-secret={{ .Values.contentHashKey.secretName }}
{{- with .Values.allowedVaultHosts }}
- --allowed-vault-hosts={{ join "," . }}
{{- end }}
{{- if .Values.restarts.enabled }}
- --restarts
- --restarts-paused={{ .Values.restarts.paused }}
- --restart-debounce={{ .Values.restarts.debounce }}
- --restart-max-in-progress={{ .Values.restarts.maxInProgress }}
- --restart-max-in-progress-per-namespace={{ .Values.restarts.maxInProgressPerNamespace }}
- --restart-progress-deadline={{ .Values.restarts.progressDeadline }}
{{- end }}
{{- with .Values.tenantId }}
- --tenant-id={{ . }}
{{- end }}
{{- with .Values.watchNamespaces }}
- --namespace={{ join "," . }}
{{- end }}
{{- with .Values.leaderElection }}
{{- if .enabled }}
- --leader-elect
- --leader-election-namespace={{ $.Release.Namespace }}
- --leader-election-lease-name={{ .leaseName }}
- --leader-election-lease-duration={{ .leaseDuration }}
- --leader-election-renew-deadline={{ .renewDeadline }}
- --leader-election-retry-period={{ .retryPeriod }}
{{- end }}
{{- end }}
{{- with .Values.push }}
{{- if .enabled }}
- --push-addr=0.0.0.0:{{ .port }}
- --push-shared-secret-file=/var/run/vaultsync/push/secret
- --push-shared-secret-header={{ .sharedSecret.header }}
- --push-poll-stretch={{ .pollStretch }}
{{- if .tlsSecretName }}
- --push-tls-cert-file=/var/run/vaultsync/push-tls/tls.crt
- --push-tls-key-file=/var/run/vaultsync/push-tls/tls.key
{{- end }}
{{- with .entraAudience }}
- --push-entra-audience={{ . }}
{{- end }}
{{- end }}
{{- end }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/*
What the operator does with the API, namespace by namespace (bound cluster-wide or per watched
namespace). It never deletes a Secret: removal is Kubernetes garbage collection through owner
references.
*/}}
{{- define "vaultsync.rules" -}}
- apiGroups: ["vaultsync.dev"]
  resources: ["vaultsecrets", "vaultcertificates"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["vaultsync.dev"]
  resources: ["vaultsecrets/status", "vaultcertificates/status"]
  verbs: ["patch", "update"]
# Server-side apply creates and updates the target Secret; adoption replaces it once.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch", "update"]
# The same for trust bundles written to a ConfigMap (output.trustBundle.writeTo: ConfigMap).
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "patch", "update"]
# The identity named by each resource: read its annotations, mint its token for Entra ID.
- apiGroups: [""]
  resources: ["serviceaccounts"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["serviceaccounts/token"]
  verbs: ["create"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if .Values.restarts.enabled }}
# Rollout restarts: watch the opted-in workloads (label-selected), patch their pod template.
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets", "daemonsets"]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
{{- end }}

{{/* The token ValidatingAdmissionPolicy and its binding (cluster-scoped: named per release namespace). */}}
{{- define "vaultsync.tokenPolicyName" -}}
{{- printf "%s-token-policy-%s" (include "vaultsync.fullname" .) .Release.Namespace | trunc 253 | trimSuffix "-" }}
{{- end }}
