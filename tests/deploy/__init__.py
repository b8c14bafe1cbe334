"""Deployment artefacts: docker-compose.yml, k8s/ (kustomize) and k8s/Dockerfile."""
