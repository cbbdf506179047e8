{{- define "common.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
example.org/environment: {{ required "global.environmentName must be set" .Values.global.environmentName }}
{{- end -}}
