{{/* The chart's name, at most 63 characters. */}}
{{- define "leadscore.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's object name: the release name, with the chart's name unless it holds it. */}}
{{- define "leadscore.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "leadscore.selectorLabels" -}}
app.kubernetes.io/name: {{ include "leadscore.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "leadscore.labels" -}}
{{ include "leadscore.selectorLabels" . }}
app.kubernetes.io/component: scoring
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "leadscore.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "leadscore.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* A StatefulSet when each pod keeps its lake on its own claim, else a Deployment. */}}
{{- define "leadscore.kind" -}}
{{- if and .Values.lake.enabled .Values.lake.persistence.enabled }}StatefulSet{{ else }}Deployment{{ end }}
{{- end }}

{{- define "leadscore.apiKeysSecret" -}}
{{- default (printf "%s-api-keys" (include "leadscore.fullname" .)) .Values.apiKeys.existingSecret }}
{{- end }}
