{{/* The name of every object. */}}
{{- define "dhi-verify.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dhi-verify.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "dhi-verify.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: admission-webhook
{{- end -}}

{{- define "dhi-verify.tlsSecret" -}}
{{- if .Values.tls.certManager.enabled -}}
{{- printf "%s-tls" (include "dhi-verify.fullname" .) -}}
{{- else -}}
{{- required "tls.secretName is required when tls.certManager.enabled is false" .Values.tls.secretName -}}
{{- end -}}
{{- end -}}

{{/* The webhook configurations' common part: client, selectors, failure policy. */}}
{{- define "dhi-verify.webhookCommon" -}}
admissionReviewVersions: ["v1"]
sideEffects: None
failurePolicy: {{ .root.Values.webhook.failurePolicy }}
matchPolicy: Equivalent
timeoutSeconds: {{ .root.Values.webhook.timeoutSeconds }}
clientConfig:
  {{- if not .root.Values.tls.certManager.enabled }}
  caBundle: {{ required "tls.caBundle is required when tls.certManager.enabled is false" .root.Values.tls.caBundle }}
  {{- end }}
  service:
    name: {{ include "dhi-verify.fullname" .root }}
    namespace: {{ .root.Release.Namespace }}
    path: {{ .path }}
    port: 443
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        - {{ .root.Release.Namespace }}
        {{- range .root.Values.webhook.excludedNamespaces }}
        - {{ . }}
        {{- end }}
{{- end -}}
