// Package deploy holds leadscore's deployment assets and their offline
// checks: the container image (Dockerfile, docker-build-steps.sh), the
// Kubernetes manifests (k8s/) and the AWS Terraform configuration
// (terraform/). It has no code; its tests parse and check the assets. See
// docs/deploy.md.
package deploy
