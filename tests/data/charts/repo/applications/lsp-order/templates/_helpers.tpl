{{- define "lsp-order.name" -}}
{{ .Chart.Name }}-{{ .Release.Name }}
{{- end }}
kind: NotAManifest
