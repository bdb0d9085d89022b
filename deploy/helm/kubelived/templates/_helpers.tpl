{{/*
Object names are fixed, not derived from the release name: the controller finds the agent's
ServiceAccount, DaemonSet and Leases by these names, and the ClusterRoles are cluster-wide, so
a cluster holds one kubelived release.
*/}}

{{- define "kubelived.labels" -}}
app.kubernetes.io/name: kubelived
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kubelived.controllerSelector" -}}
app.kubernetes.io/name: kubelived
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "kubelived.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- /* A values nodeSelector plus the OS label: the image is Linux-only. */ -}}
{{- define "kubelived.nodeSelector" -}}
{{ merge (dict "kubernetes.io/os" "linux") . | toYaml }}
{{- end -}}
